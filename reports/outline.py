"""The plan's Đề cương as data: its sections in order, what each asks the unit to report that no public page
shows ("Do đơn vị cung cấp"), and the wording of draft suggestions. Text only; the summary fills it in.
"""

from __future__ import annotations

# key, heading as the Đề cương prints it, title
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("I.1", "1.", "Công tác chỉ đạo, điều hành"),
    ("2.1", "2.1.", "Công tác tuyên truyền"),
    ("2.2", "2.2.", "Cải cách thể chế"),
    ("2.3", "2.3.", "Cải cách thủ tục hành chính"),
    ("2.4", "2.4.", "Cải cách tổ chức bộ máy hành chính nhà nước"),
    ("2.5", "2.5.", "Cải cách chế độ công vụ"),
    ("2.6", "2.6.", "Cải cách tài chính công"),
    ("2.7", "2.7.", "Xây dựng và phát triển Chính quyền điện tử, Chính quyền số"),
    ("3", "3.", "Công tác chuyển đổi số"),
    ("II", "II.", "Đánh giá chung"),
    ("III", "III.", "Kiến nghị, đề xuất"),
)
SECTION_KEYS = tuple(key for key, _, _ in SECTIONS)

INTROS = {
    "I.1": "Tình hình ban hành văn bản, triển khai nhiệm vụ CCHC, chuyển đổi số; sáng kiến; khắc phục hạn chế năm 2022.",
    "2.2": "Không có trang công khai nào mà công cụ thu thập cho mục này: toàn bộ do đơn vị cung cấp.",
    "2.3": "TTHC công khai trên Cổng Dịch vụ công tỉnh, hồ sơ tiếp nhận và giải quyết (Cổng Dịch vụ công quốc gia), "
    "chỉ số phục vụ người dân, doanh nghiệp theo QĐ 766/QĐ-TTg.",
    "2.4": "Trang giới thiệu tổ chức, lãnh đạo chưa được công cụ thu thập: toàn bộ do đơn vị cung cấp.",
    "2.5": "Không có minh chứng công khai cho mục này: toàn bộ do đơn vị cung cấp.",
    "2.6": "Báo cáo tài chính công khai chưa được công cụ thu thập: toàn bộ do đơn vị cung cấp.",
    "2.7": "Tình trạng cổng/trang thông tin điện tử và hệ thống dịch vụ công; thông tin bắt buộc theo NĐ 42/2022 "
    "(Công văn 797/UBND ngày 27/5/2023; Kế hoạch số 31/KH-UBND “ngày 29/02/2023” như Kế hoạch ghi).",
    "3": "Hạ tầng số công khai (truy cập, TLS, chuyển địa chỉ) và kết quả dịch vụ công trực tuyến.",
    "II": "Dự thảo từ số liệu công cụ thu thập; Đoàn kiểm tra và đơn vị hoàn thiện.",
    "III": "Dự thảo đề xuất rút ra từ các điểm cần lưu ý ở mục II.",
}

APOLOGY_SLIPS = (
    "Phiếu xin lỗi và hẹn lại ngày trả kết quả (Mẫu 04) cho từng hồ sơ trễ hạn; không xin lỗi chung nhiều hồ sơ "
    "trong một văn bản (kiểm tra hồ sơ thực tế)"
)
COMMUNITY_TEAM = "Kết quả hoạt động của Tổ công nghệ số cộng đồng phường, xã"
COMMUNITY_TEAM_PHONG = (
    "Kết quả hoạt động của Tổ công nghệ số cộng đồng: phòng chuyên môn không báo cáo nội dung này."
)

# What the unit provides, per section; "phong" and "phuong_xa" where the Đề cương asks each tier differently.
PROVIDED: dict[str, dict[str, tuple[str, ...]]] = {
    "I.1": {
        "all": (
            "Văn bản chỉ đạo, điều hành và tổ chức triển khai nhiệm vụ CCHC, chuyển đổi số, ngành Nội vụ, dân chủ cơ "
            "sở tại cơ quan, đơn vị",
            "Sáng kiến trong triển khai thực hiện công tác CCHC, chuyển đổi số",
            "Việc khắc phục những khó khăn, hạn chế trong thực hiện CCHC, chính quyền điện tử năm 2022",
        )
    },
    "2.1": {
        "all": (
            "Các hình thức tuyên truyền khác (hội nghị, pa-nô, Zalo, loa truyền thanh…) và tài liệu kiểm chứng",
        )
    },
    "2.2": {
        "all": (
            "Văn bản quy phạm pháp luật, văn bản chỉ đạo đăng trên cổng/trang thông tin điện tử (công cụ chưa thu "
            "thập mục này)",
            "Kế hoạch theo dõi thi hành pháp luật theo Kế hoạch số 17/KH-UBND ngày 19/01/2023 của UBND thành phố và "
            "ngành, lĩnh vực phụ trách",
            "Hoạt động theo dõi tình hình thi hành pháp luật theo Nghị định số 59/2012/NĐ-CP, Nghị định số "
            "32/2020/NĐ-CP, Điều 4 Thông tư số 04/2021/TT-BTP",
            "Báo cáo kết quả theo dõi thi hành pháp luật định kỳ",
            "Kế hoạch tự kiểm tra, rà soát, hệ thống hóa văn bản quy phạm pháp luật theo Kế hoạch số 05/KH-UBND ngày "
            "12/01/2023 của UBND thành phố",
            "Rà soát, tham mưu xử lý hoặc kiến nghị xử lý văn bản quy phạm pháp luật do địa phương ban hành",
        )
    },
    "2.3": {
        "all": (
            "Kết quả rà soát TTHC; các nội dung còn thiếu sót của ngành cấp trên về TTHC",
            "Quy chế phối hợp liên thông trong giải quyết TTHC giữa các cơ quan cùng cấp và các cấp chính quyền",
            "Kết quả tiếp nhận, xử lý PAKN qua ứng dụng Zalo Cổng Hành chính công tỉnh, Cổng DVCQG và đường dây nóng "
            "của tỉnh",
            "Số hồ sơ có phí, lệ phí (mẫu số của tỷ lệ thanh toán trực tuyến) và số hóa hồ sơ, kết quả giải quyết TTHC",
            "Triển khai chữ ký số miễn phí cho tổ chức, cá nhân khi thực hiện TTHC trực tuyến",
        )
    },
    "2.4": {
        "phong": (
            "Kết quả rà soát và kiện toàn chức năng, nhiệm vụ của cơ quan chuyên môn theo hướng dẫn của ngành cấp trên",
        ),
        "phuong_xa": (
            "Thực hiện đúng quy định về phân cấp quản lý tổ chức bộ máy, biên chế, quản lý sử dụng cán bộ, công chức",
        ),
        "all": ("Trang giới thiệu cơ cấu tổ chức, lãnh đạo trên cổng/trang thông tin điện tử",),
    },
    "2.5": {
        "phong": (
            "Bảo đảm cơ cấu ngạch công chức, biên chế, vị trí việc làm công chức đúng quy định",
            "Văn bản phân công công chức của phòng chuyên môn",
            "Trình tự, thủ tục đánh giá, phân loại công chức theo quy định",
            "Chấp hành kỷ cương, kỷ luật hành chính, kiểm tra công vụ",
            "Mức độ hoàn thành kế hoạch đào tạo, bồi dưỡng công chức của cơ quan",
            "Kết quả cập nhật phần mềm quản lý cán bộ, công chức, viên chức",
            "Tỷ lệ công chức đạt chuẩn",
        ),
        "phuong_xa": (
            "Bố trí, sử dụng công chức bảo đảm chuyên môn, chuyên ngành phù hợp với chức danh theo quy định",
            "Văn bản phân công của UBND phường, xã",
            "Trình tự, thủ tục đánh giá, phân loại cán bộ, công chức, người hoạt động không chuyên trách",
            "Chấp hành kỷ cương, kỷ luật hành chính, kiểm tra công vụ",
            "Mức độ hoàn thành kế hoạch đào tạo, bồi dưỡng cán bộ, công chức của đơn vị",
            "Tỷ lệ cán bộ, công chức đạt chuẩn",
            "Kết quả cập nhật phần mềm quản lý cán bộ, công chức, viên chức",
        ),
    },
    "2.6": {
        "all": (
            "Báo cáo tài chính, công khai ngân sách đăng trên cổng/trang thông tin điện tử",
            "Kết quả thực hiện kiến nghị sau thanh tra, kiểm tra, kiểm toán nhà nước về tài chính, ngân sách",
            "Chấp hành pháp luật về thực hành tiết kiệm, chống lãng phí",
            "Thực hiện cơ chế tự chủ về sử dụng kinh phí quản lý hành chính và công tác báo cáo",
            "Quy chế quản lý, sử dụng tài sản công (ban hành thay thế hoặc sửa đổi, bổ sung)",
        )
    },
    "2.7": {
        "all": (
            "Kết quả sử dụng Hệ thống quản lý văn bản (eGov) vào quản lý, điều hành",
            "Trao đổi, liên thông văn bản điện tử trên môi trường mạng",
            "Tỷ lệ lãnh đạo sử dụng chữ ký số chứng thực văn bản (QĐ 07/2016/QĐ-UBND, theo số token được cấp)",
            "Tỷ lệ văn bản điện tử được ký số theo Điều 6 QĐ 07/2016/QĐ-UBND",
            "Số hóa (ký SAO Y) 100% văn bản đến trước khi đưa lên eGov",
            "Danh mục thông tin bắt buộc trên cổng/trang TTĐT (NĐ 42/2022, Điều 4–5)",
        )
    },
    "3": {
        "all": ("Kế hoạch chuyển đổi số năm 2023; quy chế, quy định, chỉ đạo liên quan",),
        "phuong_xa": (COMMUNITY_TEAM,),
        "after": (
            "Cơ sở hạ tầng phục vụ chuyển đổi số trên địa bàn",
            "Kết quả xây dựng chính quyền số, phát triển kinh tế số, xã hội số tại địa phương",
        ),
    },
    "II": {
        "all": (
            "Ưu điểm, những kết quả nổi bật đã đạt được của cơ quan, đơn vị",
            "Những khó khăn, vướng mắc, tồn tại, hạn chế trong quá trình triển khai, thực hiện",
            "Biện pháp khắc phục",
        )
    },
    "III": {"all": ("Kiến nghị, đề xuất của cơ quan, đơn vị (nếu có)",)},
}


def provided(key: str, tier: str) -> list[str]:
    """What the unit provides for a section, in the Đề cương's order: the tier's own items, then the common ones."""
    parts = PROVIDED.get(key, {})
    if key == "3":
        return [*parts.get("all", ()), *parts.get(tier, ()), *parts.get("after", ())]
    return [*parts.get(tier, ()), *parts.get("all", ())]


# The 766 dashboard's own group scores; which of CLGQ/TTTT is payment is disputed (indicators.md §2).
GROUP_SCORES = {
    "i766_score_tong": ("Tổng điểm Bộ chỉ số 766", 100.0),
    "i766_score_ckmb": ("Công khai, minh bạch (CKMB)", 18.0),
    "i766_score_tdgq": ("Tiến độ, kết quả giải quyết (TDGQ)", 20.0),
    "i766_score_clgq": ("Cung cấp dịch vụ trực tuyến – nhóm CLGQ", 12.0),
    "i766_score_tttt": ("Cung cấp dịch vụ trực tuyến – nhóm TTTT", 10.0),
    "i766_score_mdsh": ("Số hóa hồ sơ (MDSH)", 22.0),
    "i766_score_mdhl": ("Mức độ hài lòng (MDHL)", 18.0),
}

# Suggestions drawn from a red flag on an indicator; {target} is what it falls short of.
ON_TIME = "Rà soát nguyên nhân hồ sơ trễ hạn, bảo đảm giải quyết hồ sơ đúng hạn."
ONLINE = "Đẩy mạnh hướng dẫn, hỗ trợ người dân, doanh nghiệp nộp hồ sơ trực tuyến (mục tiêu {target})."
PUBLISH_PROCEDURES = (
    "Phối hợp hoặc kiến nghị cơ quan có thẩm quyền cập nhật đầy đủ TTHC và quy trình giải quyết vào Cổng Dịch vụ "
    "công tỉnh (dichvucong.tayninh.gov.vn)."
)
SUGGESTIONS = {
    "PAR_NEWS": "Tăng cường đăng tin, bài trên cổng/trang thông tin điện tử (mục tiêu {target}).",
    "PAR_CCHC_POSTS": "Đẩy mạnh tuyên truyền cải cách hành chính, chuyển đổi số trên cổng/trang thông tin điện tử "
    "(mục tiêu {target}) theo Kế hoạch số 31/KH-UBND của UBND thành phố.",
    "PAR_TTHC_COMPLETE": "Rà soát, bổ sung đầy đủ 7 bộ phận tạo thành của các TTHC công khai trên Cổng Dịch vụ "
    "công tỉnh.",
    "PAR_TTHC_PUBLIC": PUBLISH_PROCEDURES,
    "I766_1_4": "Bảo đảm đồng bộ đầy đủ hồ sơ TTHC lên Cổng Dịch vụ công quốc gia.",
    "I766_2_1": ON_TIME,
    "PAR_ONTIME": ON_TIME,
    "I766_3_1": "Kiến nghị nâng mức cung cấp dịch vụ công trực tuyến cho các TTHC còn ở mức cung cấp thông tin.",
    "PAR_TOAN_TRINH": "Kiến nghị cấp có thẩm quyền nâng tỷ lệ dịch vụ công trực tuyến toàn trình (mục tiêu {target}, "
    "Công văn 3109/BTTTT-CĐSQG).",
    "I766_3_3": ONLINE,
    "PAR_ONLINE": ONLINE,
    "I766_5_2": "Xử lý phản ánh, kiến nghị của người dân, doanh nghiệp đúng hạn.",
}
RECONCILE_SUGGESTION = (
    "Đề nghị đơn vị giải trình điểm Bộ chỉ số 766 do Cổng Dịch vụ công quốc gia công bố lệch so với số liệu công "
    "khai ({groups}); phối hợp kiểm tra việc đồng bộ, cập nhật dữ liệu hồ sơ, phản ánh kiến nghị lên Cổng."
)
RECONCILE_TITLE = "Điểm công bố lệch so với số liệu công khai"
LATE_SUGGESTION = (
    "Thực hiện xin lỗi bằng văn bản (Phiếu xin lỗi và hẹn lại ngày trả kết quả, Mẫu 04) với từng hồ sơ trễ hạn; "
    "không xin lỗi chung nhiều hồ sơ trong một văn bản."
)
SITE_SUGGESTION = (
    "Khắc phục tình trạng {site} không truy cập được hoặc đã chuyển địa chỉ; báo địa chỉ mới (nếu có) để cập nhật "
    "việc theo dõi."
)
MISSING_SUGGESTION = (
    "Kiểm tra lại nguồn minh chứng (trang không truy cập được, không đọc được hoặc chưa thu thập) và đề nghị đơn vị "
    "cung cấp số liệu tại buổi làm việc cho các chỉ tiêu: {names}."
)
NEWS_CHANGES_SUGGESTION = (
    "Đề nghị đơn vị giải trình các tin, bài bị gỡ, đổi ngày đăng hoặc đăng bù ghi lùi ngày giữa hai lần thu thập "
    "(xem bản chụp kèm theo); tin, bài được tính theo ngày đăng hiện tại trên cổng."
)
