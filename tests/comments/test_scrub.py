"""Scrubbing personal data out of comments: real-shaped inputs are hidden, ordinary text kept."""

import pytest

from app.comments.scrub import PLACEHOLDER, personal_data_spans, scrub

HIDDEN = PLACEHOLDER
NAMES = ["张三", "李四光", "Wang Wei"]

# (what the rater wrote, what is kept)
SCRUBBED = [
    # mobile numbers
    ("我的电话13812345678", f"我的电话{HIDDEN}"),
    ("电话 138 1234 5678 谢谢", f"电话 {HIDDEN} 谢谢"),
    ("请回电138-1234-5678。", f"请回电{HIDDEN}。"),
    ("手机：139 - 0000 - 1111", f"手机：{HIDDEN}"),
    ("联系1 5 9 1 2 3 4 5 6 7 8", f"联系{HIDDEN}"),
    ("号码199.8765.4321", f"号码{HIDDEN}"),
    ("+86 138 1234 5678", HIDDEN),
    ("+8613812345678找我", f"{HIDDEN}找我"),
    ("0086-13812345678", HIDDEN),
    ("(+86)13812345678", HIDDEN),
    ("8613812345678", HIDDEN),
    ("电话１３８１２３４５６７８", f"电话{HIDDEN}"),  # full-width digits
    ("＋８６　１３８　１２３４　５６７８。", f"{HIDDEN}。"),  # full-width, ideographic spaces
    ("１３８－１２３４－５６７８", HIDDEN),  # full-width dashes
    ("电话 138—1234—5678", f"电话 {HIDDEN}"),  # em dashes
    # landline numbers
    ("办公室010-12345678", f"办公室{HIDDEN}"),
    ("0755 1234 5678", HIDDEN),
    ("（0755）12345678", HIDDEN),
    ("(021) 6123 4567", HIDDEN),
    ("0571-8765432", HIDDEN),
    ("0755-12345678转801", HIDDEN),
    ("+86 10 1234 5678", HIDDEN),
    ("０１０－１２３４５６７８", HIDDEN),
    # resident ID numbers
    ("身份证11010119900307123X", f"身份证{HIDDEN}"),
    ("身份证号110101199003071234。", f"身份证号{HIDDEN}。"),
    ("身份证 110101 19900307 123x", f"身份证 {HIDDEN}"),
    ("110101-19900307-1234", HIDDEN),
    ("440106 1990 0307 123X", HIDDEN),
    ("110 101 1990 0307 123X", HIDDEN),
    ("１１０１０１１９９００３０７１２３Ｘ", HIDDEN),  # full width, X too
    ("旧身份证110101900307123", f"旧身份证{HIDDEN}"),
    ("110101 900307 123", HIDDEN),
    ("卡号6222021234567890123", f"卡号{HIDDEN}"),  # 19 digits: a bank card
    # e-mail addresses
    ("邮箱 zhang.san@example.com 谢谢", f"邮箱 {HIDDEN} 谢谢"),
    ("发到abc_123@qq.com。", f"发到{HIDDEN}。"),
    ("ｚｈａｎｇ＠ｑｑ．ｃｏｍ", HIDDEN),
    ("zhang @ 163.com", HIDDEN),
    ("li+si@mail.gov.cn", HIDDEN),
    # names from the list
    ("张三态度很差", f"{HIDDEN}态度很差"),
    ("李四光同志很耐心", f"{HIDDEN}同志很耐心"),
    ("wang wei and WANG WEI helped", f"{HIDDEN} and {HIDDEN} helped"),
    ("Ｗａｎｇ Ｗｅｉ", HIDDEN),
    # several in one comment
    (
        "张三让我打13812345678，身份证110101199003071234，邮箱a@b.cn，座机010-12345678",
        f"{HIDDEN}让我打{HIDDEN}，身份证{HIDDEN}，邮箱{HIDDEN}，座机{HIDDEN}",
    ),
]

KEPT = [
    "2026年11月26日去办事，等了两个小时。",
    "收费300元，退了1,380元。",
    "第3窗口的工作人员很热情",
    "1234号窗口",
    "满意度95%，比去年提高了3.5%",
    "邮编518000",
    "打12345热线没人接",
    "客服电话400-123-4567",
    "2026-11-26 13:45 到 15:30",
    "2026.11.26",
    "办事大厅 3 楼 2 号窗口",
    "13 14 15 16 17 18号窗口都开着",
    "排队第138号",
    "①材料多②跑了3次",
    "张先生和王女士",  # not on the list
    "Please reply by e-mail @ the office",
    "评分86 分，90 分，95 分",
]


class TestPersonalDataIsHidden:
    @pytest.mark.parametrize(("text", "expected"), SCRUBBED, ids=[t for t, _ in SCRUBBED])
    def test_scrubbed(self, text: str, expected: str) -> None:
        assert scrub(text, NAMES) == expected

    def test_names_only_when_listed(self) -> None:
        assert scrub("张三态度很差") == "张三态度很差"

    def test_the_longest_listed_name_wins(self) -> None:
        assert scrub("张三丰来了", ["张三", "张三丰"]) == f"{HIDDEN}来了"

    def test_blank_names_are_ignored(self) -> None:
        assert scrub("态度很好", ["", "  "]) == "态度很好"


class TestOrdinaryTextIsKept:
    @pytest.mark.parametrize("text", KEPT)
    def test_kept(self, text: str) -> None:
        assert scrub(text, NAMES) == text
        assert personal_data_spans(text, NAMES) == []

    def test_full_width_punctuation_around_a_number_is_kept_as_typed(self) -> None:
        assert scrub("（电话：13812345678）！", NAMES) == f"（电话：{HIDDEN}）！"

    def test_line_breaks_are_kept(self) -> None:
        assert scrub("第一行\n13812345678\n第三行") == f"第一行\n{HIDDEN}\n第三行"


class TestScrubbingTwice:
    @pytest.mark.parametrize(("text", "expected"), SCRUBBED[:5], ids=[t for t, _ in SCRUBBED[:5]])
    def test_changes_nothing_more(self, text: str, expected: str) -> None:
        assert scrub(scrub(text, NAMES), NAMES) == expected

    def test_even_with_a_listed_name_inside_the_placeholder(self) -> None:
        once = scrub("去了两次", ["去"])

        assert once == f"{HIDDEN}了两次"
        assert scrub(once, ["去"]) == once
