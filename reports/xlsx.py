"""XLSX: the summary as a workbook: the cover, a sheet per Đề cương section, and "Nguồn", every figure with
the observations, snapshots, URLs and SHA-256 behind it. Numbers are numbers; N/A and "Do đơn vị cung cấp"
are text, never a blank or a zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.chart import BarChart, LineChart, Reference  # type: ignore[import-untyped]
from openpyxl.chart.axis import ChartLines  # type: ignore[import-untyped]
from openpyxl.styles import Alignment, Font, PatternFill  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

from reports import vi
from reports.model import NOT_AVAILABLE, PROVIDED_TEXT, Chart, Section, Summary

SHEET_NAMES = {
    "I.1": "I.1 Chỉ đạo, điều hành",
    "2.1": "2.1 Tuyên truyền",
    "2.2": "2.2 Thể chế",
    "2.3": "2.3 Thủ tục hành chính",
    "2.4": "2.4 Tổ chức bộ máy",
    "2.5": "2.5 Công vụ",
    "2.6": "2.6 Tài chính công",
    "2.7": "2.7 CQĐT, CQS",
    "3": "3 Chuyển đổi số",
    "II": "II Đánh giá chung",
    "III": "III Kiến nghị, đề xuất",
}
COVER_SHEET = "Bìa"
SOURCES_SHEET = "Nguồn"
SOURCES_COLUMNS = (
    "Mục",
    "Số liệu",
    "Mã chỉ tiêu",
    "Giá trị",
    "Trạng thái",
    "Mã bản chụp",
    "Thời điểm chụp (giờ VN)",
    "URL",
    "SHA-256 nội dung",
    "Mã quan sát (từ bản chụp này)",
)
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=13, color="0F3A66")
HEADER_FILL = PatternFill("solid", fgColor="E8EEF5")
PROVIDED_FILL = PatternFill("solid", fgColor="FFF8E1")
WRAP = Alignment(wrap_text=True, vertical="top")
PERCENT = "0.00%"
POINTS = "0.00"


class _Sheet:
    """Rows appended one after another, with headers styled and long text wrapped."""

    def __init__(self, sheet: Any, widths: Sequence[int]) -> None:
        self.sheet = sheet
        for index, width in enumerate(widths):
            sheet.column_dimensions[chr(ord("A") + index)].width = width

    def title(self, text: str) -> None:
        self.sheet.append([text])
        self.sheet.cell(self.sheet.max_row, 1).font = TITLE

    def blank(self) -> None:
        self.sheet.append([])

    def header(self, *cells: str) -> int:
        """Append a header row; returns its row number."""
        self.sheet.append(list(cells))
        for cell in self.sheet[self.sheet.max_row]:
            cell.font = BOLD
            cell.fill = HEADER_FILL
            cell.alignment = WRAP
        return int(self.sheet.max_row)

    def freeze_and_filter(self, header_row: int, last_row: int, columns: int) -> None:
        """Headers stay in view while scrolling, and the table under them can be filtered."""
        self.sheet.freeze_panes = self.sheet.cell(header_row + 1, 1)
        if last_row > header_row:
            self.sheet.auto_filter.ref = f"A{header_row}:{get_column_letter(columns)}{last_row}"

    def row(
        self, *cells: Any, fill: PatternFill | None = None, formats: dict[int, str] | None = None
    ) -> None:
        """Append a row; `formats` gives a number format by column index (0-based) for numeric cells."""
        self.sheet.append([_cell(c) for c in cells])
        for index, cell in enumerate(self.sheet[self.sheet.max_row]):
            cell.alignment = WRAP
            if fill is not None:
                cell.fill = fill
            if formats and index in formats and isinstance(cell.value, int | float):
                cell.number_format = formats[index]


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple | set):
        return ", ".join(str(v) for v in sorted(value)) if value else ""
    return value


def _value(status: str, value: float | None) -> Any:
    """A number when there is one; else the reason it is not a number, never a blank."""
    if status in ("ok", "reported") and value is not None:
        return value
    if status == "reported":
        return "Theo Cổng DVCQG"
    return PROVIDED_TEXT if status == "provided_by_unit" else NOT_AVAILABLE


def write_xlsx(summary: Summary, path: Path) -> Path:
    workbook = Workbook()
    cover_sheet = workbook.active
    cover_sheet.title = COVER_SHEET
    _cover(summary, _Sheet(cover_sheet, (34, 90)))
    for section in summary.sections:
        _section(
            section, _Sheet(workbook.create_sheet(SHEET_NAMES[section.key]), (44, 18, 14, 14, 18, 40, 28, 28))
        )
    _sources(summary, _Sheet(workbook.create_sheet(SOURCES_SHEET), (7, 44, 16, 14, 20, 12, 20, 50, 66, 40)))
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


def _cover(summary: Summary, out: _Sheet) -> None:
    cover = summary.cover
    ledger = cover.ledger
    out.title("Báo cáo tóm tắt trước kiểm tra")
    out.row("Kế hoạch", f"{cover.plan} ngày {vi.day(cover.plan_date)}: {cover.inspection_title}")
    out.row("Đơn vị", f"{cover.unit_name} ({cover.unit_kind_vi}) – {cover.unit_id}")
    out.row("Kỳ số liệu", f"{cover.period_label} ({cover.period_key})")
    out.row("Ngày Đoàn kiểm tra làm việc", vi.day(cover.visit) if cover.visit else "Chưa có lịch")
    out.row("Hạn gửi báo cáo về Phòng Nội vụ", vi.day(cover.due) if cover.due else "—")
    out.row("Bộ quy tắc chấm điểm", f"{cover.rule_set} (hiệu lực {cover.rule_set_valid})")
    out.row("Lập lúc (giờ VN)", vi.moment(cover.made_at))
    out.row("Đầu chuỗi sổ minh chứng", f"bản ghi số {ledger.head_seq}, hash {ledger.head_hash}")
    out.row(
        "Kiểm tra toàn vẹn",
        "toàn vẹn (0 vấn đề)"
        if ledger.clean
        else f"phát hiện {ledger.problems} vấn đề: " + "; ".join(ledger.first_problems),
    )
    out.blank()
    out.header("Chỉ số", "Điểm", "Xếp loại", "Xếp hạng", "Độ phủ", "Ghi chú")
    for total in cover.totals:
        out.row(
            total.name_vi,
            # Our check reads as points of the points computable, never as a number out of 100.
            total.display_index if total.indicator == "CHECK_766" else _value(total.status, total.index),
            total.grade_vi,
            f"{total.rank}/{total.ranked_units}" if total.rank else "—",
            total.coverage if total.coverage is not None else NOT_AVAILABLE,
            total.reason_vi,
            formats={1: POINTS, 4: PERCENT},
        )


def _section(section: Section, out: _Sheet) -> None:
    out.title(f"{section.heading} {section.title}")
    if section.intro:
        out.row(section.intro)
    for note in section.notes:
        out.row(note)
    if section.indicators:
        out.blank()
        indicator_header = out.header(
            "Chỉ tiêu",
            "Mã",
            "Tử số",
            "Mẫu số",
            "Tỷ lệ",
            "Điểm",
            "Điểm tối đa",
            "Trạng thái",
            "Lý do",
            "Mục tiêu",
            "Cảnh báo",
            "Điểm Cổng DVCQG",
            "Mã quan sát",
            "Mã bản chụp",
        )
        for line in section.indicators:
            fill = PROVIDED_FILL if line.status == "provided_by_unit" else None
            out.row(
                line.name_vi,
                line.indicator,
                _value(line.status, line.numerator),
                _value(line.status, line.denominator)
                if line.denominator is not None or line.status != "ok"
                else "—",
                _value(line.status, line.rate) if line.rate is not None or line.status != "ok" else "—",
                _value(line.status, line.points),
                line.max_points,
                line.status_vi,
                line.reason_vi,
                line.target_text,
                "có" if line.flag else "",
                line.reported_value if line.reported_value is not None else "",
                line.observation_ids,
                line.snapshot_ids,
                fill=fill,
                formats={4: PERCENT, 5: POINTS, 11: POINTS},
            )
        out.freeze_and_filter(indicator_header, out.sheet.max_row, 14)
    for chart in section.charts:
        if chart.months and chart.series:
            _native_chart(chart, out)
    if section.facts:
        out.blank()
        out.header(
            "Số liệu điền sẵn", "Giá trị", "Hiển thị", "Trạng thái", "Ghi chú", "Mã quan sát", "Mã bản chụp"
        )
        for fact in section.facts:
            notes = "; ".join(x for x in [fact.reason_vi, *fact.details] if x)
            out.row(
                fact.label,
                _value(fact.status, fact.value),
                fact.display,
                vi.status_text(fact.status),
                notes,
                fact.observation_ids,
                fact.snapshot_ids,
            )
    for table in section.tables:
        out.blank()
        out.row(table.title)
        out.header(*table.columns)
        for cells in table.rows or ((NOT_AVAILABLE,),):
            out.row(*cells)
    for fact in section.facts:
        if fact.posts:
            out.blank()
            out.row(f"{fact.label} ({len(fact.posts)})")
            out.header("Tiêu đề", "Ngày đăng", "CCHC, CĐS", "Mã quan sát", "Mã bản chụp", "URL")
            for post in fact.posts:
                out.row(
                    post.title,
                    post.published,
                    "có" if post.reform else "",
                    post.observation_id,
                    post.snapshot_id,
                    post.url,
                )
    _findings(section, out)
    if section.provided:
        out.blank()
        out.header("Nội dung do đơn vị cung cấp", "Tình trạng", "Điền sẵn")
        for item in section.provided:
            out.row(item.text, item.status_text, item.prefilled, fill=PROVIDED_FILL)
    if section.snapshots:
        out.blank()
        out.header("Mã bản chụp", "Thời điểm chụp (giờ VN)", "Nguồn", "URL", "SHA-256 nội dung")
        for ref in section.snapshots:
            out.row(
                ref.id,
                vi.moment(ref.captured_at),
                f"{ref.probe}/{ref.render}: {ref.label}",
                ref.url,
                ref.sha256 or "—",
            )


def _native_chart(chart: Chart, out: _Sheet) -> None:
    """The chart's monthly figures as a block of cells (a month without evidence stays blank, never 0), and an
    Excel chart drawn from them beside it: its numbers stay live in the workbook."""
    out.blank()
    out.row(f"{chart.title} (theo tháng, {chart.unit})")
    names = [name for name, _ in chart.series] + (
        [f"Chỉ tiêu ({chart.unit})"] if chart.target is not None else []
    )
    first = out.header("Tháng", *names)
    for n, month in enumerate(chart.months):
        values = [values[n] for _, values in chart.series] + (
            [chart.target] if chart.target is not None else []
        )
        out.row(vi.month_label(month), *values, formats={i + 1: "#,##0.0" for i in range(len(values))})
    last = out.sheet.max_row
    drawn = BarChart() if chart.kind == "bar" else LineChart()
    drawn.title = chart.title
    drawn.y_axis.title = chart.unit
    drawn.x_axis.title = "Tháng"
    drawn.y_axis.scaling.min = 0  # the zero baseline
    drawn.y_axis.majorGridlines = ChartLines()
    drawn.x_axis.delete = drawn.y_axis.delete = False  # openpyxl hides both axes unless told
    drawn.y_axis.number_format = "#,##0.0"
    drawn.height, drawn.width = 7.5, 16
    data = Reference(out.sheet, min_col=2, max_col=1 + len(names), min_row=first, max_row=last)
    drawn.add_data(data, titles_from_data=True)
    drawn.set_categories(Reference(out.sheet, min_col=1, min_row=first + 1, max_row=last))
    drawn.legend.position = "b"
    out.sheet.add_chart(drawn, f"{get_column_letter(len(names) + 3)}{first}")


def _findings(section: Section, out: _Sheet) -> None:
    labels = {
        "strength": "Ưu điểm (dự thảo)",
        "red_flag": "Tồn tại, hạn chế (dự thảo)",
        "suggestion": "Đề xuất (dự thảo)",
    }
    if not section.findings:
        return
    out.blank()
    out.header("Loại", "Nội dung", "Từ mục", "Mã quan sát", "Mã bản chụp")
    for finding in section.findings:
        out.row(
            labels[finding.kind],
            finding.text,
            finding.source_section,
            finding.observation_ids,
            finding.snapshot_ids,
        )


def _sources(summary: Summary, out: _Sheet) -> None:
    """Every figure × every snapshot it rests on, with the observations read from that snapshot."""
    out.header(*SOURCES_COLUMNS)
    _sources_rows(summary, out)
    out.freeze_and_filter(1, out.sheet.max_row, len(SOURCES_COLUMNS))


def _sources_rows(summary: Summary, out: _Sheet) -> None:
    for section in summary.sections:
        for line in section.indicators:
            _figure_rows(
                out,
                summary,
                section.key,
                line.name_vi,
                line.indicator,
                _value(line.status, line.points if line.status == "ok" else line.reported_value),
                line.status_vi,
                line.observation_ids,
                line.snapshot_ids,
            )
        for fact in section.facts:
            _figure_rows(
                out,
                summary,
                section.key,
                fact.label,
                "",
                _value(fact.status, fact.value),
                vi.status_text(fact.status),
                fact.observation_ids,
                fact.snapshot_ids,
            )
            for post in fact.posts:
                _figure_rows(
                    out,
                    summary,
                    section.key,
                    f"Tin, bài: {post.title}",
                    "",
                    post.published[:10],
                    vi.status_text("ok"),
                    [post.observation_id],
                    [post.snapshot_id],
                )
        for shot in section.screenshots:
            _figure_rows(
                out,
                summary,
                section.key,
                f"Ảnh chụp màn hình: {shot.label}",
                "",
                shot.sha256,
                vi.status_text("ok"),
                [],
                [shot.snapshot_id],
            )
        for item in section.provided:
            out.row(
                section.key,
                item.text,
                "",
                item.status_text,
                vi.status_text("provided_by_unit"),
                fill=PROVIDED_FILL,
            )


def _figure_rows(
    out: _Sheet,
    summary: Summary,
    key: str,
    label: str,
    indicator: str,
    value: Any,
    status: str,
    observations: Iterable[int],
    snapshots: Iterable[int],
) -> None:
    by_snapshot: dict[int, list[int]] = {}
    for observation in observations:
        by_snapshot.setdefault(summary.observation_snapshot.get(observation, -1), []).append(observation)
    snapshot_ids = sorted(set(snapshots) | {s for s in by_snapshot if s >= 0})
    if not snapshot_ids:
        out.row(key, label, indicator, value, status, "", "", "", "", by_snapshot.get(-1, []))
        return
    for snapshot_id in snapshot_ids:
        ref = summary.snapshot_index.get(snapshot_id)
        out.row(
            key,
            label,
            indicator,
            value,
            status,
            snapshot_id,
            vi.moment(ref.captured_at) if ref else "",
            ref.url if ref else "",
            (ref.sha256 or "—") if ref else "",
            by_snapshot.get(snapshot_id, []),
        )
