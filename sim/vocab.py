"""Vietnamese words the generator draws from: people, procedures by field, news titles, provinces.

Everything here is NFC text. Procedure names follow the national database's wording; titles follow the
styles seen on ward and city portals. News titles outside the reform themes never contain a reform keyword.
"""

from __future__ import annotations

SURNAMES = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Huỳnh",
    "Hoàng",
    "Phan",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Lý",
)
MIDDLE_NAMES = ("Văn", "Thị", "Minh", "Thanh", "Ngọc", "Hoàng", "Hữu", "Thị Kim", "Quốc", "Đức")
GIVEN_NAMES = (
    "An", "Bình", "Cường", "Dũng", "Hà", "Hải", "Hạnh", "Hiếu", "Hoa", "Hùng", "Hương", "Khánh", "Lan", "Linh",
    "Long", "Mai", "Nam", "Nga", "Nhung", "Phúc", "Phương", "Quang", "Sơn", "Tâm", "Thảo", "Thắng", "Trang",
    "Trung", "Tuấn", "Uyên", "Vân", "Việt", "Yến",
)  # fmt: skip

# Fields (lĩnh vực) handled at ward/commune level, with procedure names of the national database.
WARD_FIELDS: dict[str, tuple[str, ...]] = {
    "Hộ tịch": (
        "Đăng ký khai sinh",
        "Đăng ký kết hôn",
        "Đăng ký khai tử",
        "Đăng ký nhận cha, mẹ, con",
        "Đăng ký giám hộ",
        "Đăng ký chấm dứt giám hộ",
        "Đăng ký thay đổi, cải chính, bổ sung thông tin hộ tịch",
        "Cấp giấy xác nhận tình trạng hôn nhân",
        "Đăng ký lại khai sinh",
        "Đăng ký lại kết hôn",
        "Đăng ký lại khai tử",
        "Đăng ký khai sinh kết hợp nhận cha, mẹ, con",
        "Cấp bản sao trích lục hộ tịch",
        "Đăng ký khai sinh lưu động",
        "Đăng ký kết hôn lưu động",
        "Liên thông thủ tục đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi",
    ),
    "Chứng thực": (
        "Chứng thực bản sao từ bản chính giấy tờ, văn bản",
        "Chứng thực chữ ký trong các giấy tờ, văn bản",
        "Chứng thực hợp đồng, giao dịch liên quan đến tài sản là động sản, quyền sử dụng đất và nhà ở",
        "Chứng thực di chúc",
        "Chứng thực văn bản từ chối nhận di sản",
        "Chứng thực việc sửa đổi, bổ sung, hủy bỏ hợp đồng, giao dịch",
        "Cấp bản sao có chứng thực từ bản chính hợp đồng, giao dịch đã được chứng thực",
        "Chứng thực chữ ký người dịch mà người dịch là cộng tác viên dịch thuật",
    ),
    "Bảo trợ xã hội": (
        "Thực hiện, điều chỉnh, thôi hưởng trợ cấp xã hội hàng tháng, hỗ trợ kinh phí chăm sóc, nuôi dưỡng hàng tháng",
        "Xác định, xác định lại mức độ khuyết tật và cấp Giấy xác nhận khuyết tật",
        "Đổi, cấp lại Giấy xác nhận khuyết tật",
        "Trợ giúp xã hội khẩn cấp về hỗ trợ làm nhà ở, sửa chữa nhà ở",
        "Hỗ trợ chi phí mai táng cho đối tượng bảo trợ xã hội",
        "Công nhận hộ nghèo, hộ cận nghèo phát sinh trong năm",
        "Công nhận hộ thoát nghèo, hộ thoát cận nghèo trong năm",
        "Đăng ký hoạt động đối với cơ sở trợ giúp xã hội dưới 10 đối tượng có hoàn cảnh khó khăn",
    ),
    "Người có công": (
        "Giải quyết chế độ trợ cấp thờ cúng liệt sĩ",
        "Giải quyết chế độ ưu đãi đối với thân nhân liệt sĩ",
        "Cấp giấy xác nhận thân nhân của người có công",
        "Hỗ trợ người có công đi làm phương tiện, dụng cụ trợ giúp chỉnh hình",
        "Giải quyết chế độ mai táng phí đối với cựu chiến binh",
    ),
    "Đất đai": (
        "Hòa giải tranh chấp đất đai",
        "Xác nhận hợp đồng tiếp cận nguồn nước tưới tiêu",
        "Xác nhận nguồn gốc, thời điểm sử dụng đất",
        "Đăng ký đất đai lần đầu đối với trường hợp được Nhà nước giao đất để quản lý",
    ),
    "Môi trường": (
        "Tham vấn trong đánh giá tác động môi trường",
        "Xác nhận kế hoạch bảo vệ môi trường đối với hộ gia đình",
    ),
    "Văn hóa cơ sở": (
        "Xét tặng danh hiệu Gia đình văn hóa hằng năm",
        "Xét tặng Giấy khen Gia đình văn hóa",
        "Thông báo tổ chức lễ hội cấp xã",
        "Đăng ký tổ chức lễ hội cấp xã",
        "Công nhận câu lạc bộ thể thao cơ sở",
    ),
    "Thi đua, khen thưởng": (
        "Tặng Giấy khen của Chủ tịch UBND cấp xã về thực hiện nhiệm vụ chính trị",
        "Tặng Giấy khen của Chủ tịch UBND cấp xã cho gia đình",
        "Tặng danh hiệu Lao động tiên tiến",
        "Tặng Giấy khen của Chủ tịch UBND cấp xã về thành tích thi đua theo đợt, chuyên đề",
    ),
    "Tôn giáo": (
        "Thủ tục đăng ký hoạt động tín ngưỡng",
        "Thủ tục đăng ký bổ sung hoạt động tín ngưỡng",
        "Thủ tục đăng ký sinh hoạt tôn giáo tập trung",
        "Thủ tục thông báo danh mục hoạt động tôn giáo đối với tổ chức có địa bàn hoạt động ở một xã",
    ),
    "Giải quyết khiếu nại": ("Giải quyết khiếu nại lần đầu tại cấp xã",),
    "Giải quyết tố cáo": ("Giải quyết tố cáo tại cấp xã",),
    "Tiếp công dân": ("Tiếp công dân tại cấp xã", "Xử lý đơn tại cấp xã"),
    "Nuôi con nuôi": (
        "Đăng ký việc nuôi con nuôi trong nước",
        "Đăng ký lại việc nuôi con nuôi trong nước",
        "Giải quyết việc người nước ngoài cư trú ở khu vực biên giới nước láng giềng nhận trẻ em Việt Nam làm con nuôi",
    ),
    "Phòng, chống tệ nạn xã hội": (
        "Quyết định quản lý cai nghiện ma túy tự nguyện tại gia đình",
        "Quyết định cai nghiện ma túy tự nguyện tại cộng đồng",
    ),
    "Nông nghiệp": (
        "Hỗ trợ dự án liên kết",
        "Phê duyệt kế hoạch khuyến nông địa phương",
        "Hỗ trợ khôi phục sản xuất vùng bị thiệt hại do thiên tai",
    ),
    "Hòa giải cơ sở": (
        "Thủ tục công nhận hòa giải viên",
        "Thủ tục công nhận tổ trưởng tổ hòa giải",
        "Thủ tục thôi làm hòa giải viên",
        "Thủ tục thanh toán thù lao cho hòa giải viên",
    ),
}

# Words for generated procedure names in fields the stock above does not cover (city-level fields).
PROCEDURE_VERBS = (
    "Cấp",
    "Cấp lại",
    "Điều chỉnh",
    "Gia hạn",
    "Thu hồi",
    "Xác nhận",
    "Đăng ký",
    "Thẩm định",
    "Phê duyệt",
)
PROCEDURE_OBJECTS = (
    "giấy phép",
    "giấy chứng nhận",
    "hồ sơ",
    "văn bản chấp thuận",
    "quyết định công nhận",
    "kế hoạch",
    "giấy xác nhận",
)

# The ministry that publishes a field's procedures on the national database.
FIELD_MINISTRY: dict[str, str] = {
    "Hộ tịch": "Bộ Tư pháp",
    "Chứng thực": "Bộ Tư pháp",
    "Nuôi con nuôi": "Bộ Tư pháp",
    "Hòa giải cơ sở": "Bộ Tư pháp",
    "Bồi thường nhà nước": "Bộ Tư pháp",
    "Bảo trợ xã hội": "Bộ Lao động - Thương binh và Xã hội",
    "Người có công": "Bộ Lao động - Thương binh và Xã hội",
    "Trẻ em": "Bộ Lao động - Thương binh và Xã hội",
    "Phòng, chống tệ nạn xã hội": "Bộ Lao động - Thương binh và Xã hội",
    "Đất đai": "Bộ Tài nguyên và Môi trường",
    "Môi trường": "Bộ Tài nguyên và Môi trường",
    "Tài nguyên nước": "Bộ Tài nguyên và Môi trường",
    "Văn hóa cơ sở": "Bộ Văn hóa, Thể thao và Du lịch",
    "Thể dục thể thao": "Bộ Văn hóa, Thể thao và Du lịch",
    "Gia đình": "Bộ Văn hóa, Thể thao và Du lịch",
    "Thi đua, khen thưởng": "Bộ Nội vụ",
    "Tôn giáo": "Bộ Nội vụ",
    "Giải quyết khiếu nại": "Thanh tra Chính phủ",
    "Giải quyết tố cáo": "Thanh tra Chính phủ",
    "Tiếp công dân": "Thanh tra Chính phủ",
    "Phòng, chống tham nhũng": "Thanh tra Chính phủ",
    "Nông nghiệp": "Bộ Nông nghiệp và Phát triển nông thôn",
    "Thủy lợi": "Bộ Nông nghiệp và Phát triển nông thôn",
    "Hoạt động xây dựng": "Bộ Xây dựng",
    "Quy hoạch xây dựng": "Bộ Xây dựng",
    "Nhà ở": "Bộ Xây dựng",
    "Đường bộ": "Bộ Giao thông vận tải",
    "Giáo dục và Đào tạo thuộc hệ thống giáo dục quốc dân": "Bộ Giáo dục và Đào tạo",
    "Thi, tuyển sinh": "Bộ Giáo dục và Đào tạo",
    "An toàn thực phẩm và dinh dưỡng": "Bộ Y tế",
    "Y tế dự phòng": "Bộ Y tế",
    "Lưu thông hàng hóa trong nước": "Bộ Công Thương",
    "Công nghiệp địa phương": "Bộ Công Thương",
    "Thành lập và hoạt động của hộ kinh doanh": "Bộ Kế hoạch và Đầu tư",
    "Thành lập và hoạt động của hợp tác xã": "Bộ Kế hoạch và Đầu tư",
    "Quản lý công sản": "Bộ Tài chính",
    "Xuất bản, in và phát hành": "Bộ Thông tin và Truyền thông",
}

# Fields whose procedures usually carry a fee (online payment applies).
FEE_FIELDS = frozenset(
    {"Hộ tịch", "Chứng thực", "Đất đai", "Hoạt động xây dựng", "Thành lập và hoạt động của hộ kinh doanh"}
)

# Monthly dossier volume of a field at one unit, roughly (high-traffic fields first).
FIELD_VOLUME: dict[str, int] = {
    "Chứng thực": 260,
    "Hộ tịch": 120,
    "Đất đai": 70,
    "Thành lập và hoạt động của hộ kinh doanh": 45,
    "Hoạt động xây dựng": 35,
    "Bảo trợ xã hội": 25,
    "Người có công": 8,
}

# News titles. {unit} is the unit's short name, {year} the year, {month} the month number.
CCHC_TITLES = (
    "{unit} triển khai Kế hoạch cải cách hành chính năm {year}",
    "Hội nghị sơ kết công tác cải cách hành chính 6 tháng đầu năm {year}",
    "{unit} đẩy mạnh chuyển đổi số trong giải quyết thủ tục hành chính",
    "Tuyên truyền, hướng dẫn người dân sử dụng dịch vụ công trực tuyến",
    "Kết quả thực hiện công tác CCHC tháng {month}/{year}",
    "Ra quân hỗ trợ người dân cài đặt, kích hoạt tài khoản định danh điện tử và chuyển đổi số",
    "Bộ phận một cửa {unit}: nâng cao chất lượng phục vụ người dân",
    "Rà soát, đơn giản hóa thủ tục hành chính năm {year}",
    "Tổ công nghệ số cộng đồng {unit} ra mắt, góp phần chuyển đổi số",
    "Công khai kết quả giải quyết thủ tục hành chính quý {quarter}/{year}",
    "Kế hoạch số {number}/KH-UBND về tuyên truyền cải cách hành chính năm {year}",
    "Khảo sát mức độ hài lòng của người dân đối với dịch vụ công trực tuyến",
)
GENERAL_TITLES = (
    "{unit} tổ chức Hội nghị đại biểu nhân dân khu phố năm {year}",
    "Ra quân tổng vệ sinh môi trường, hưởng ứng Ngày Môi trường thế giới",
    "Trao quà cho hộ nghèo, gia đình chính sách nhân dịp Tết Nguyên đán",
    "Họp mặt kỷ niệm ngày Thương binh - Liệt sĩ 27/7",
    "Tổ chức giải bóng đá thiếu niên hè năm {year}",
    "{unit}: tiếp xúc cử tri trước kỳ họp Hội đồng nhân dân",
    "Tuyên truyền phòng, chống sốt xuất huyết trên địa bàn",
    "Lễ giao nhận quân năm {year} diễn ra trang trọng",
    "Hội thi Dân vận khéo năm {year}",
    "Tổng kết năm học {year_before}-{year}, khen thưởng học sinh giỏi",
    "Kiểm tra an toàn thực phẩm dịp Tết Trung thu",
    "Ngày hội Đại đoàn kết toàn dân tộc tại khu phố {block}",
    "Diễn tập phòng cháy, chữa cháy tại chợ {unit}",
    "Tiêm vắc xin phòng bệnh cho trẻ em dưới 5 tuổi",
    "Ra mắt mô hình Camera an ninh tại khu phố {block}",
    "Thông báo lịch tiếp công dân tháng {month}/{year}",
    "Hội nghị triển khai nhiệm vụ phát triển kinh tế - xã hội quý {quarter}/{year}",
    "Phát động phong trào thi đua yêu nước năm {year}",
    "Tập huấn kỹ năng phòng, chống đuối nước cho trẻ em",
    "Trao tặng nhà Đại đoàn kết cho hộ có hoàn cảnh khó khăn",
)
# Posts a phòng files on the city portal, outside the reform themes.
DEPARTMENT_TITLES = (
    "{unit} tổ chức hội nghị tổng kết công tác năm {year_before}",
    "{unit} triển khai nhiệm vụ trọng tâm quý {quarter}/{year}",
    "Thông báo của {unit} về lịch làm việc tháng {month}/{year}",
    "{unit} kiểm tra tình hình thực hiện nhiệm vụ tại cơ sở",
    "Tập huấn nghiệp vụ do {unit} tổ chức năm {year}",
    "{unit}: hội nghị sơ kết 6 tháng đầu năm {year}",
)

AUTHORS_SUFFIX = ("Văn phòng", "Bộ phận Văn hóa - Xã hội", "Đài Truyền thanh")

PROVINCES = (
    "Hà Nội", "Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ", "An Giang", "Bà Rịa - Vũng Tàu", "Bắc Giang",
    "Bắc Kạn", "Bạc Liêu", "Bắc Ninh", "Bến Tre", "Bình Định", "Bình Dương", "Bình Phước", "Bình Thuận",
    "Cà Mau", "Cao Bằng", "Đắk Lắk", "Đắk Nông", "Điện Biên", "Đồng Nai", "Đồng Tháp", "Gia Lai", "Hà Giang",
    "Hà Nam", "Hà Tĩnh", "Hải Dương", "Hậu Giang", "Hòa Bình", "Hưng Yên", "Khánh Hòa", "Kiên Giang",
    "Kon Tum", "Lai Châu", "Lâm Đồng", "Lạng Sơn", "Lào Cai", "Long An", "Nam Định", "Nghệ An", "Ninh Bình",
    "Ninh Thuận", "Phú Thọ", "Phú Yên", "Quảng Bình", "Quảng Nam", "Quảng Ngãi", "Quảng Ninh", "Quảng Trị",
    "Sóc Trăng", "Sơn La", "Tây Ninh", "Thái Bình", "Thái Nguyên", "Thanh Hóa", "Thừa Thiên Huế", "Tiền Giang",
    "Trà Vinh", "Tuyên Quang", "Vĩnh Long", "Vĩnh Phúc", "Yên Bái",
)  # fmt: skip
CENTRAL_CITIES = frozenset({"Hà Nội", "Hồ Chí Minh", "Hải Phòng", "Đà Nẵng", "Cần Thơ"})

# Other units of the province on the 766 dashboard, beside the configured wards.
PROVINCE_DEPARTMENTS = (
    "Sở Tư pháp", "Sở Nội vụ", "Sở Kế hoạch và Đầu tư", "Sở Tài chính", "Sở Tài nguyên và Môi trường",
    "Sở Xây dựng", "Sở Giao thông vận tải", "Sở Y tế", "Sở Giáo dục và Đào tạo", "Sở Công Thương",
    "Sở Lao động - Thương binh và Xã hội", "Sở Văn hóa, Thể thao và Du lịch", "Sở Thông tin và Truyền thông",
    "Sở Nông nghiệp và Phát triển nông thôn", "Sở Khoa học và Công nghệ", "Ban Quản lý Khu kinh tế",
)  # fmt: skip
# The province's other districts (huyện, thị xã) of 2023, beside the city.
OTHER_DISTRICTS = (
    "UBND thị xã Hòa Thành", "UBND thị xã Trảng Bàng", "UBND huyện Tân Biên", "UBND huyện Tân Châu",
    "UBND huyện Dương Minh Châu", "UBND huyện Châu Thành", "UBND huyện Gò Dầu", "UBND huyện Bến Cầu",
)  # fmt: skip
OTHER_COMMUNES = (
    "UBND Xã Long Thành Bắc", "UBND Xã Trường Hòa", "UBND Phường Long Hoa", "UBND Xã Hảo Đước",
    "UBND Xã Suối Đá", "UBND Xã Phan", "UBND Phường Trảng Bàng", "UBND Xã Bàu Năng", "UBND Xã Chà Là",
    "UBND Thị trấn Tân Châu", "UBND Xã Thái Bình", "UBND Phường An Tịnh",
)  # fmt: skip
