"""The scheduled daemon (`cchc run`): probes on their cron schedules, a lease in the database, missed-run detection.

Built by issue #5; until then `cchc run` says so.
"""
