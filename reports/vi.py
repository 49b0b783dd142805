"""Vietnamese for the summary: numbers and dates as official documents write them (1.664; 92,31; 20/09/2023),
labels of statuses, kinds and periods, and Vietnamese glosses of the indicator table's (English) reasons.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime

from indicators import Period
from reports.figures import half_up
from reports.model import NOT_AVAILABLE, PROVIDED_TEXT

STATUS_VI = {
    "ok": "Có minh chứng",
    "na": "Không áp dụng (N/A)",
    "missing": "Thiếu minh chứng (N/A)",
    "reported": "Theo Cổng DVCQG",
    "provided_by_unit": PROVIDED_TEXT,
}
# The rule set's tags (indicators.md), beside each score and in the legend: short label, what it means.
CONFIDENCE_VI = {
    "official": (
        "Chính thức",
        "Chính thức: công thức và điểm theo văn bản, tài liệu kỹ thuật được trích dẫn.",
    ),
    "partial": (
        "Một phần",
        "Một phần: công thức theo tài liệu chính thức; điểm tối đa hoặc cách tính điểm chưa có văn bản.",
    ),
    "proposed": ("Đề xuất", "Đề xuất: cách tính do công cụ đề xuất, điều chỉnh được trong cấu hình."),
}
# Every observation name an inspector may meet (rule-set inputs, what the probes observe), in words: the one
# table of them (tests/test_inspector_views.py fails on a name missing here). The name itself is shown only as a tag.
METRIC_VI = {
    "hs_received": "Hồ sơ tiếp nhận",
    "hs_received_direct": "Hồ sơ tiếp nhận trực tiếp",
    "hs_received_post": "Hồ sơ tiếp nhận qua bưu chính",
    "hs_received_online": "Hồ sơ tiếp nhận trực tuyến",
    "hs_synced": "Hồ sơ đồng bộ lên Cổng DVCQG",
    "hs_processed_on_time": "Hồ sơ giải quyết trước hạn, đúng hạn",
    "hs_processed_late": "Hồ sơ giải quyết quá hạn",
    "hs_returned_on_time": "Hồ sơ trả kết quả đúng hạn",
    "hs_returned_late": "Hồ sơ trả kết quả quá hạn",
    "hs_pending_in_time": "Hồ sơ đang giải quyết trong hạn",
    "hs_pending_overdue": "Hồ sơ đang giải quyết quá hạn",
    "hs_paid_online_dvcqg": "Hồ sơ thanh toán trực tuyến qua Cổng DVCQG",
    "hs_paid_online_local": "Hồ sơ thanh toán trực tuyến qua Cổng DVC tỉnh",
    "hs_fee_bearing": "Hồ sơ thuộc diện nộp phí, lệ phí",
    "hs_late_with_apology": "Hồ sơ trễ hạn có Phiếu xin lỗi",
    "hs_digitised": "Hồ sơ được số hóa",
    "pakn_on_time": "Phản ánh, kiến nghị xử lý đúng hạn",
    "pakn_late": "Phản ánh, kiến nghị xử lý quá hạn",
    "pakn_pending_in_time": "Phản ánh, kiến nghị đang xử lý trong hạn",
    "pakn_pending_overdue": "Phản ánh, kiến nghị đang xử lý quá hạn",
    "i766_score_tong": "Chỉ số 766 do Cổng DVCQG công bố",
    "i766_score_ckmb": "Điểm nhóm Công khai, minh bạch (Cổng DVCQG)",
    "i766_score_tdgq": "Điểm nhóm Tiến độ giải quyết (Cổng DVCQG)",
    "i766_score_clgq": "Điểm nhóm Chất lượng giải quyết (Cổng DVCQG)",
    "i766_score_tttt": "Điểm nhóm Thanh toán trực tuyến (Cổng DVCQG)",
    "i766_score_mdsh": "Điểm nhóm Số hóa hồ sơ (Cổng DVCQG)",
    "i766_score_mdhl": "Điểm nhóm Mức độ hài lòng (Cổng DVCQG)",
    "i766_rank": "Hạng trong bảng Chỉ số 766 của tỉnh",
    "i766_rank_district": "Hạng của thành phố trong bảng Chỉ số 766 của tỉnh",
    "i766_province": "Chỉ số 766 của tỉnh",
    "i766_dashboard_rows": "Số dòng của bảng Chỉ số 766",
    "tthc_listed": "TTHC niêm yết trên Cổng DVC tỉnh",
    "tthc_toan_trinh": "TTHC cung cấp DVCTT toàn trình",
    "tthc_mot_phan": "TTHC cung cấp DVCTT một phần",
    "tthc_cung_cap_thong_tin": "TTHC chỉ cung cấp thông tin",
    "tthc_dvctt": "TTHC cung cấp dịch vụ công trực tuyến",
    "tthc_complete_7": "TTHC công khai đủ 7 bộ phận",
    "tthc_reference": "TTHC trong danh mục chuẩn",
    "tthc_reference_complete": "TTHC trong danh mục chuẩn được công khai",
    "tthc_reference_missing": "TTHC trong danh mục chuẩn chưa công khai",
    "tthc_reference_page": "Trang danh mục TTHC chuẩn",
    "tthc": "Thủ tục hành chính",
    "tthc_detail": "Chi tiết thủ tục hành chính",
    "tthc_list_page": "Trang danh sách TTHC",
    "tthc_list_rendered": "Danh sách TTHC (trình duyệt)",
    "linh_vuc": "Lĩnh vực TTHC",
    "news_posts": "Tin, bài đăng trong kỳ",
    "news_posts_cchc": "Tin, bài về CCHC, chuyển đổi số",
    "news_post": "Tin, bài",
    "news_page": "Trang chuyên mục tin",
    "news_feed_item": "Tin trong nguồn cấp (RSS)",
    "news_article": "Trang bài viết (ngày đăng của bài)",
    "news_home": "Trang chủ mục tin",
    "news_site_moved": "Cổng tin đã chuyển địa chỉ",
    "portal_items_present": "Mục thông tin bắt buộc có trên cổng",
    "portal_items_applicable": "Mục thông tin bắt buộc phải có",
    "pdf_published": "Văn bản PDF công bố",
    "pdf_signed_valid": "Văn bản PDF có chữ ký số hợp lệ",
    "site_up": "Trang truy cập được",
    "site_moved": "Trang đã chuyển địa chỉ",
    "site_gone": "Trang đã ngừng",
    "site_response_ms": "Thời gian phản hồi của trang (ms)",
    "site_screenshot": "Ảnh chụp trang",
    "report_row": "Dòng báo cáo",
    "report_rows": "Số dòng báo cáo",
    "report_empty": "Báo cáo không có dòng nào",
    "unit_match": "Đối chiếu tên đơn vị",
}
PROBE_VI = {
    "availability": "Kiểm tra truy cập trang",
    "news": "Tin, bài trên cổng",
    "procedures": "Thủ tục hành chính",
    "service_stats": "Số liệu hồ sơ, Chỉ số 766",
}
OUTCOME_VI = {
    "ok": "Thành công",
    "http-error": "Lỗi HTTP",
    "timeout": "Quá thời gian chờ",
    "connection-error": "Không kết nối được",
    "rate-limited": "Bị giới hạn tần suất",
    "robots-disallowed": "robots.txt không cho phép",
    "too-large": "Nội dung quá lớn",
    "host-not-allowed": "Địa chỉ ngoài danh sách cho phép",
    "browser-error": "Lỗi trình duyệt",
}
# The indicator table's columns as XLSX headers read them (tests/test_inspector_views.py: every column has one).
COLUMN_VI = {
    "period": "Kỳ",
    "unit": "Mã đơn vị",
    "unit_name": "Đơn vị",
    "kind": "Loại đơn vị",
    "tier": "Cấp so sánh",
    "family": "Bộ chỉ số",
    "group": "Mã nhóm",
    "indicator": "Mã chỉ tiêu",
    "name_vi": "Chỉ tiêu",
    "numerator": "Tử số",
    "denominator": "Mẫu số",
    "rate": "Tỷ lệ",
    "points": "Điểm",
    "max_points": "Điểm tối đa",
    "status": "Trạng thái",
    "reason": "Lý do, ghi chú",
    "band": "Xếp loại",
    "rank": "Hạng trong cấp",
    "published_rank": "Hạng trên bảng của tỉnh (Cổng DVCQG)",
    "coverage": "Độ phủ minh chứng",
    "flag": "Cảnh báo",
    "confidence": "Mức tin cậy của cách tính",
    "scoring": "Cách chấm",
    "threshold": "Ngưỡng",
    "reported_value": "Điểm Cổng DVCQG công bố",
    "rule_set": "Bộ quy tắc",
    "observation_ids": "Mã quan sát",
    "snapshot_ids": "Mã bản chụp",
    "previous_period": "Kỳ so sánh (cùng kỳ năm trước)",
    "previous_points": "Điểm kỳ so sánh",
    "change": "Thay đổi (điểm)",
}
KIND_VI = {"phong": "Phòng chuyên môn", "phuong": "UBND phường", "xa": "UBND xã"}
TIER_VI = {"phong": "phòng chuyên môn", "phuong_xa": "phường, xã"}
ROMAN_QUARTER = {1: "I", 2: "II", 3: "III", 4: "IV"}


def number(value: float, decimals: int = 2) -> str:
    """1664 → '1.664'; 92.3074 → '92,31' (half up); 0.5 → '0,5'; trailing zeros of a fraction dropped."""
    rounded = half_up(float(value), decimals)
    if rounded == int(rounded):
        return f"{int(rounded):,}".replace(",", ".")
    whole, _, fraction = f"{rounded:,.{decimals}f}".partition(".")
    return whole.replace(",", ".") + "," + fraction.rstrip("0")


def points(value: float, decimals: int = 2) -> str:
    """Points always with the displayed decimals: 1.385 → '1,39'; 4 → '4,00'."""
    rounded = half_up(float(value), decimals)
    whole, _, fraction = f"{rounded:,.{decimals}f}".partition(".")
    return whole.replace(",", ".") + ("," + fraction if fraction else "")


def percent(rate: float, decimals: int = 2) -> str:
    return points(100 * rate, decimals) + "%"


def day(value: date | datetime) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def moment(value: datetime) -> str:
    return f"{value:%H:%M:%S} {day(value)}"


def month_label(month: str) -> str:
    year, number_ = month.split("-")
    return f"{number_}/{year}"


def period_label(period: Period) -> str:
    key = period.key
    if ".." in key or key == "ytd":
        return f"Từ tháng {month_label(period.months[0])} đến tháng {month_label(period.months[-1])}"
    rest = key[4:]
    if rest == "":
        return f"Năm {key}"
    if rest.startswith("-Q"):
        return f"Quý {ROMAN_QUARTER[int(rest[2:])]}/{key[:4]}"
    if rest == "-H1":
        return f"6 tháng đầu năm {key[:4]}"
    if rest == "-H2":
        return f"6 tháng cuối năm {key[:4]}"
    return f"Tháng {month_label(period.months[0])}"


def compress_ids(ids: Iterable[int], limit: int = 0) -> str:
    """[1, 2, 3, 5, 7, 8] → '1–3, 5, 7–8': a long list of evidence ids, readable on paper; with a limit, the
    runs that fit in that many characters and '…'."""
    ordered = sorted(set(ids))
    if not ordered:
        return "—"
    runs: list[str] = []
    start = previous = ordered[0]
    for value in [*ordered[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(str(start) if start == previous else f"{start}–{previous}")
        if value is not None:
            start = previous = value
    text = ", ".join(runs)
    if limit and len(text) > limit:
        cut = text[:limit].rsplit(", ", 1)[0]
        return f"{cut}, …"
    return text


# --- reasons: the indicator table writes them in English for analysts; inspectors read Vietnamese -----------

_Gloss = Callable[[re.Match[str]], str]
_PATTERNS: list[tuple[re.Pattern[str], _Gloss]] = [
    (re.compile(r"^Do đơn vị cung cấp: (.+)$"), lambda m: f"{PROVIDED_TEXT} (số liệu: {metrics(m[1])})"),
    (
        re.compile(r"^Do đơn vị cung cấp \(no public count\)$"),
        lambda m: f"{PROVIDED_TEXT} (không có số liệu công khai)",
    ),
    (
        re.compile(r"^the Decision-766 dashboard scores wards and communes, not city departments$"),
        lambda m: "Bộ chỉ số 766 (QĐ 766/QĐ-TTg) chấm điểm phường, xã; không chấm phòng chuyên môn",
    ),
    (
        re.compile(r"^no lĩnh vực is attributed to this phòng.*$"),
        lambda m: (
            "Phòng không được phân công lĩnh vực TTHC nào tại Bộ phận Một cửa thành phố (cấu hình dvc_linh_vuc)"
        ),
    ),
    (
        re.compile(r"^no denominator in the period \(0\)$"),
        lambda m: "Không phát sinh trong kỳ (mẫu số bằng 0)",
    ),
    (
        re.compile(r"^no denominator in the period \(0\): .+ \(when_no_denominator = (zero|full)\)$"),
        lambda m: (
            "Không phát sinh trong kỳ (mẫu số bằng 0): "
            + ("đạt điểm tối đa" if m[1] == "full" else "0 điểm")
            + f", như Cổng DVCQG tính (quy tắc {m[1]})"
        ),
    ),
    (
        re.compile(r"^measured for the whole province, not for a unit \(province-level indicator\)$"),
        lambda m: "Chỉ tiêu tính cho cả tỉnh, không tính riêng cho từng đơn vị",
    ),
    (
        re.compile(r"^not published: the monthly summary has no (\w+) \(.+\)$"),
        lambda m: (
            "Không có số liệu công khai: báo cáo tháng của Cổng DVCQG không công bố số hồ sơ, phản ánh kiến nghị "
            "còn đang xử lý cuối tháng"
        ),
    ),
    (
        re.compile(r"^the period has no published index of its own: that of (\d{4}-\d{2}) is shown$"),
        lambda m: f"Kỳ này không có chỉ số công bố riêng: ghi chỉ số tháng {month_label(m[1])}",
    ),
    (
        re.compile(r"^no published index for ([\w-]+)(?:: (.+))?$", re.S),
        lambda m: f"Chưa có chỉ số Cổng DVCQG công bố cho kỳ {m[1]}" + (f": {reason(m[2])}" if m[2] else ""),
    ),
    (
        re.compile(
            r"^points earned of the points computable: (\d+)% of the (\d+) points; never banded or ranked"
            r"(?:; (\d+) indicators without evidence)?$"
        ),
        lambda m: (
            f"Điểm đạt trên số điểm tính được từ minh chứng công khai, bằng {m[1]}% của {m[2]} điểm; "
            "không xếp loại, không xếp hạng" + (f"; {m[3]} chỉ tiêu thiếu minh chứng" if m[3] else "")
        ),
    ),
    (
        re.compile(r"^coverage (\d+)%: the rest is provided by the unit or not public$"),
        lambda m: (
            f"Độ phủ minh chứng {m[1]}%: phần còn lại do đơn vị cung cấp hoặc không có số liệu công khai"
        ),
    ),
    (re.compile(r"^no evidence of (\w+)$"), lambda m: f"Chưa có minh chứng cho số liệu “{metric(m[1])}”"),
    (re.compile(r"^no figures for (\d{4}-\d{2})$"), lambda m: f"Không có số liệu tháng {month_label(m[1])}"),
    (re.compile(r"^the site moved to (.+)$"), lambda m: f"Trang đã chuyển sang địa chỉ {m[1]}"),
    (
        re.compile(r"^no complete capture of category '([^']+)'(?:: (.+))?$", re.S),
        lambda m: f"Chưa thu thập trọn vẹn chuyên mục '{m[1]}'" + (f": {_failure(m[2])}" if m[2] else ""),
    ),
    (
        re.compile(r"^the pages of '([^']+)' reached back only to (.+)$"),
        lambda m: f"Các trang của chuyên mục '{m[1]}' chỉ lùi về đến {m[2]}",
    ),
    (
        re.compile(
            r"^the procedure list of DonViID (\d+) was never read to its TotalCount(?:: (.+))?$", re.S
        ),
        lambda m: (
            f"Danh sách TTHC của DonViID {m[1]} chưa được đọc đủ đến TotalCount"
            + (f": {_failure(m[2])}" if m[2] else "")
        ),
    ),
    (
        re.compile(r"^the seven parts of (\d+) listed procedures were not captured$"),
        lambda m: f"Chưa thu thập đủ 7 bộ phận tạo thành của {m[1]} TTHC",
    ),
    (
        re.compile(r"^the seven parts of some listed procedures were not captured$"),
        lambda m: "Chưa thu thập đủ 7 bộ phận tạo thành của một số TTHC",
    ),
    (
        re.compile(r"^the national reference list \((\w+)\) was never read completely$"),
        lambda m: f"Danh mục TTHC chuẩn trên Cổng DVCQG (cấp {m[1]}) chưa được đọc đủ",
    ),
    (
        re.compile(r"^incomplete: (\d+) indicators without evidence \(coverage (\d+)%\)$"),
        lambda m: f"Chưa đầy đủ: {m[1]} chỉ tiêu thiếu minh chứng (độ phủ {m[2]}%)",
    ),
    (re.compile(r"^incomplete$"), lambda m: "Chưa đầy đủ minh chứng"),
    (
        re.compile(r"^(.+): the dashboard's group score (.+)$"),
        lambda m: f"Điểm nhóm “{m[1]}” do Cổng DVCQG công bố: {number(float(m[2]))}",
    ),
    (re.compile(r"^not ranked: coverage below (\d+)%$"), lambda m: f"Không xếp hạng: độ phủ dưới {m[1]}%"),
    (
        re.compile(r"^not graded: coverage (\d+)%, below (\d+)%; not covered: (.*)$", re.S),
        lambda m: f"{not_graded(int(m[1]), int(m[2]))}; chưa có minh chứng: {m[3].replace(' · ', '; ')}",
    ),
    (
        re.compile(r"^no indicator of this family could be scored(?:: (.+))?$", re.S),
        lambda m: "Không chỉ tiêu nào của nhóm tính được điểm" + (f": {reason(m[1])}" if m[1] else ""),
    ),
]
_METRIC_PREFIX = re.compile(r"^([a-z][a-z0-9_]*|I766_\w+|PAR_\w+): (.+)$", re.S)
_MONTH_PREFIX = re.compile(r"^(\d{4}-\d{2}): (.+)$", re.S)
_PARSE_FAILURE = re.compile(r"^((?:news|procedures|service_stats|availability)(?:/[\w-]+)?): (.+)$", re.S)


def reason(text: str) -> str:
    """A Vietnamese gloss of a reason; parts that are data (URLs, ids, raw errors) are kept as they are."""
    text = (text or "").strip()
    if not text:
        return ""
    head, sep, tail = text.partition("; not ranked")
    if sep:
        return f"{reason(head)}; {reason('not ranked' + tail)}"
    for pattern, gloss in _PATTERNS:
        match = pattern.match(text)
        if match:
            return gloss(match)
    month = _MONTH_PREFIX.match(text)
    if month:
        return f"Tháng {month_label(month[1])}: {reason(month[2])}"
    metric = _METRIC_PREFIX.match(text)
    if metric and not _PARSE_FAILURE.match(text):
        return reason(metric[2])  # the metric's name stays in the raw reason, for analysts
    return _failure(text)


def _failure(text: str) -> str:
    """Why a capture gave no evidence: a parse failure ('parser: reason') or a failed capture, kept verbatim."""
    failure = _PARSE_FAILURE.match(text)
    if failure:
        return f"không đọc được bố cục trang ({failure[1]}): {failure[2]}"
    return text


def metric(name: str) -> str:
    """An observation's name in words (the name itself where the table has none: a test keeps it complete)."""
    return METRIC_VI.get(name.strip(), name.strip())


def metrics(names: str) -> str:
    return "; ".join(metric(n) for n in names.split(","))


def not_graded(coverage_percent: int, needed_percent: int) -> str:
    """What a total below the coverage floor shows instead of a grade."""
    return f"Chưa đủ dữ liệu (phủ {coverage_percent}%, cần {needed_percent}%): không xếp loại, không xếp hạng"


def status_text(status: str) -> str:
    return STATUS_VI.get(status, status)


def not_available(status: str) -> str:
    return PROVIDED_TEXT if status == "provided_by_unit" else NOT_AVAILABLE
