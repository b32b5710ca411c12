"""The report kinds opsbot ingests: one table of data, not a chain of ifs.

Each kind names its fields, the value type of each field, the header aliases under which the
back office exports it (Chinese, English, API field names), and its natural key. Adding an
alias is adding one string to a tuple below. Header matching ignores case, spaces, `_`, `-`,
`%` and brackets, so "Product ID", "product_id" and "productId" are the same alias.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum


class Type(StrEnum):
    TEXT = "text"
    INT = "int"
    NUMBER = "number"
    RATE = "rate"  # stored as a fraction: 3.25% -> 0.0325
    MONEY = "money"
    BOOL = "bool"
    DATE = "date"
    DATETIME = "datetime"  # stored as naive UTC


def currency_column(field_name: str) -> str:
    """The stored column beside a money field that holds each value's currency
    (bot/ingest/currency.py): spend -> spend_currency."""
    return f"{field_name}_currency"


@dataclass(frozen=True)
class Field:
    name: str
    type: Type
    aliases: tuple[str, ...]
    required: bool = False
    default: str | None = None  # used when the column is absent (e.g. ad spend is CNY)


@dataclass(frozen=True)
class ReportKind:
    name: str
    title: str
    fields: tuple[Field, ...]
    # Natural key alternatives: the first whose parts are all present identifies the row.
    keys: tuple[tuple[str, ...], ...]
    # One file of the kind as messages name it, with its article: "an inquiry list".
    noun: str = ""
    # Facts that belong to a report period (taken from the title row or the file name).
    periodic: bool = False
    # The field whose dates give the drop's period, for kinds without a report period.
    date_field: str | None = None
    # Words in typical file names (lower case), a tie-breaker when headers are ambiguous.
    file_hints: tuple[str, ...] = ()
    by_name: dict[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def required(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.required)

    @property
    def dated_key(self) -> bool:
        """Every key alternative holds the date field: a fact's key tells its day."""
        return self.date_field is not None and all(self.date_field in k for k in self.keys)


T = Type

KINDS: tuple[ReportKind, ...] = (
    ReportKind(
        "products",
        "Data Manager product report",
        noun="a Data Manager product report",
        periodic=True,
        keys=(("period_start", "period_end", "product_id"),),
        file_hints=("products", "product", "产品"),
        fields=(
            Field("product_id", T.TEXT, ("产品ID", "商品ID", "Product ID", "productId"),
                  required=True),
            Field("product_name", T.TEXT, ("产品名称", "商品名称", "Product Name", "Product",
                                           "subject")),
            Field("is_showcase", T.BOOL, ("是否橱窗", "橱窗", "Showcase", "isShowcase")),
            Field("is_top_display", T.BOOL, ("是否顶展", "Top Display")),
            Field("is_p4p", T.BOOL, ("是否P4P", "是否直通车", "P4P", "isP4p")),
            Field("impressions", T.INT, ("搜索曝光次数", "搜索曝光", "Search Impressions",
                                         "Impressions", "exposure")),
            Field("clicks", T.INT, ("搜索点击次数", "搜索点击", "Search Clicks", "Clicks")),
            Field("ctr", T.RATE, ("搜索点击率", "Search CTR", "CTR")),
            Field("visitors", T.INT, ("访问人数", "访客数", "Visitors", "visitor")),
            Field("inquiries", T.INT, ("询盘个数", "询盘数", "Inquiries", "inquiry")),
            Field("inquirers", T.INT, ("询盘人数", "Inquiring Buyers", "Inquirers")),
            Field("inquiry_rate", T.RATE, ("询盘率", "Inquiry Rate")),
            Field("tm_contacts", T.INT, ("TM咨询人数", "TM Contacts", "TM Consultations")),
            Field("orders", T.INT, ("提交订单个数", "订单数", "Orders", "Submitted Orders")),
            Field("owner", T.TEXT, ("产品负责人", "负责人", "Owner", "Product Owner")),
            Field("store_impressions", T.INT, ("全店曝光次数", "全站曝光", "Store Impressions")),
            Field("store_clicks", T.INT, ("全店点击次数", "全站点击", "Store Clicks")),
            Field("p4p_impressions", T.INT, ("P4P曝光次数", "直通车曝光", "P4P Impressions")),
            Field("p4p_clicks", T.INT, ("P4P点击次数", "直通车点击", "P4P Clicks")),
            Field("score", T.NUMBER, ("产品分", "产品质量分", "Product Score", "score")),
        ),
    ),
    ReportKind(
        "keywords",
        "Data Manager keyword report",
        noun="a Data Manager keyword report",
        periodic=True,
        keys=(("period_start", "period_end", "keyword"),),
        file_hints=("keyword", "getkeywords", "关键词"),
        fields=(
            Field("keyword", T.TEXT, ("词", "关键词", "搜索词", "Keyword", "Search Term",
                                      "keywords"), required=True),
            Field("impressions", T.INT, ("曝光量", "曝光", "曝光次数", "Impressions",
                                         "impression")),
            Field("clicks", T.INT, ("点击量", "点击", "点击次数", "Clicks", "click")),
            Field("ctr", T.RATE, ("点击率", "CTR")),
            Field("p4p_impressions", T.INT, ("外贸直通车曝光", "直通车曝光", "P4P Impressions")),
            Field("p4p_clicks", T.INT, ("外贸直通车点击", "直通车点击", "P4P Clicks")),
            Field("promotion_hours", T.NUMBER, ("推广时长", "Promotion Hours")),
            Field("top10_avg_impressions", T.NUMBER, ("Top10平均曝光", "Top 10 Avg Impressions")),
            Field("top10_avg_clicks", T.NUMBER, ("Top10平均点击", "Top 10 Avg Clicks")),
            Field("search_index", T.NUMBER, ("关键词指数", "搜索热度", "Keyword Index",
                                             "Search Popularity")),
            Field("seller_index", T.NUMBER, ("卖家规模指数", "卖家竞争度", "Seller Index",
                                             "Seller Competition")),
        ),
    ),
    ReportKind(
        "p4p",
        "P4P (pay-for-performance) ad report",
        noun="a P4P ad report",
        keys=(("date", "plan", "keyword", "product_id"),),
        date_field="date",
        file_hints=("p4p", "直通车", "全站推广", "推广", "campaign"),
        fields=(
            Field("date", T.DATE, ("日期", "统计日期", "Date", "stat_date"), required=True),
            Field("plan", T.TEXT, ("计划名称", "推广计划", "计划", "Campaign", "Plan",
                                   "Campaign Name", "campaign_name")),
            Field("keyword", T.TEXT, ("关键词", "推广词", "Keyword", "word")),
            Field("product_id", T.TEXT, ("产品ID", "推广产品ID", "Product ID", "productId")),
            Field("impressions", T.INT, ("曝光量", "曝光", "Impressions", "impression")),
            Field("clicks", T.INT, ("点击量", "点击", "Clicks", "click")),
            Field("ctr", T.RATE, ("点击率", "CTR")),
            Field("spend", T.MONEY, ("花费", "消耗", "总花费", "Spend", "Cost")),
            Field("cpc", T.MONEY, ("点击成本", "平均点击花费", "平均点击成本", "CPC", "Avg. CPC",
                                   "avg_cpc")),
            Field("inquiries", T.INT, ("询盘量", "询盘数", "Inquiries")),
            Field("tm_contacts", T.INT, ("TM咨询量", "TM Contacts")),
            Field("orders", T.INT, ("订单量", "Orders")),
            Field("opportunities", T.INT, ("全站商机量", "商机量", "Opportunities")),
            Field("bid", T.MONEY, ("出价", "Bid", "price")),
            Field("position", T.INT, ("排名", "推广位置", "平均排名", "Position", "Rank")),
            Field("quality_stars", T.INT, ("推广评分", "质量星级", "星级", "Quality Stars",
                                           "qs_star")),
            Field("daily_budget", T.MONEY, ("日预算", "每日预算", "Daily Budget", "budget")),
            Field("currency", T.TEXT, ("币种", "Currency"), default="CNY"),
        ),
    ),
    ReportKind(
        "traffic",
        "Daily shop overview",
        noun="a daily shop overview",
        keys=(("date", "source", "country"),),
        date_field="date",
        file_hints=("traffic", "overview", "流量", "店铺"),
        fields=(
            Field("date", T.DATE, ("日期", "统计日期", "Date", "stat_date"), required=True),
            Field("source", T.TEXT, ("流量来源", "来源", "Source", "Traffic Source")),
            Field("country", T.TEXT, ("国家/地区", "国家", "地区", "Country", "Region",
                                      "Country/Region")),
            Field("visitors", T.INT, ("店铺访问人数", "访客数", "访问人数", "Visitors",
                                      "Store Visitors")),
            Field("page_views", T.INT, ("浏览量", "店铺浏览量", "Page Views", "PV")),
            Field("impressions", T.INT, ("搜索曝光次数", "曝光量", "Search Impressions",
                                         "Impressions")),
            Field("clicks", T.INT, ("搜索点击次数", "点击量", "Search Clicks", "Clicks")),
            Field("inquiries", T.INT, ("询盘个数", "询盘数", "Inquiries")),
            Field("tm_contacts", T.INT, ("TM咨询人数", "TM Contacts")),
            Field("reply_rate", T.RATE, ("及时回复率", "Timely Reply Rate", "Reply Rate")),
        ),
    ),
    ReportKind(
        "inquiries",
        "Inquiry list",
        noun="an inquiry list",
        keys=(("inquiry_id",),),
        date_field="created_at",
        file_hints=("inquir", "询盘"),
        fields=(
            Field("inquiry_id", T.TEXT, ("询盘ID", "询盘编号", "询盘号", "询盘单号", "Inquiry ID",
                                         "Inquiry No.", "Inquiry Number", "inquiryId"),
                  required=True),
            Field("buyer", T.TEXT, ("客户名", "买家", "买家姓名", "联系人", "发件人", "Buyer",
                                    "Buyer Name", "Customer Name", "Sender", "Contact")),
            Field("country", T.TEXT, ("国家/地区", "国家", "Country", "Country/Region")),
            Field("company", T.TEXT, ("公司名称", "公司", "Company", "Company Name")),
            Field("email", T.TEXT, ("邮箱", "Email", "E-mail")),
            Field("product_id", T.TEXT, ("询盘产品ID", "产品ID", "Product ID")),
            Field("product_title", T.TEXT, ("询盘产品标题", "产品标题", "Product Title",
                                            "Product")),
            Field("subject", T.TEXT, ("询盘标题", "询盘主题", "标题", "Subject", "Inquiry Title",
                                      "Inquiry Subject")),
            # An inquiry list's only date column is when each inquiry came in, whatever its
            # header: "Date" here is not a traffic report's day (the inquiry ID tells them apart).
            Field("created_at", T.DATETIME, ("创建时间", "询盘时间", "发送时间", "接收时间",
                                             "收到时间", "询盘日期", "日期", "Created",
                                             "Created Time", "Create Time", "Received Time",
                                             "Receive Time", "Received", "Inquiry Time",
                                             "Inquiry Date", "Date", "gmtCreate"),
                  required=True),
            Field("replied_at", T.DATETIME, ("最新回复时间", "回复时间", "首次回复时间",
                                             "Last Reply Time", "Replied At", "Reply Time",
                                             "Replied Time", "Last Replied")),
            Field("owner", T.TEXT, ("业务员", "负责人", "Owner", "Salesperson", "Sales",
                                    "Sales Rep")),
            Field("is_spam", T.BOOL, ("垃圾询盘", "是否垃圾询盘", "Spam", "Is Spam")),
        ),
    ),
    ReportKind(
        "customers",
        "CRM customer list",
        noun="a CRM customer list",
        keys=(
            ("customer_id",),
            ("company", "country"),
            ("customer", "country"),
            ("company",),
            ("customer",),
        ),
        file_hints=("customer", "crm", "客户"),
        fields=(
            Field("customer_id", T.TEXT, ("客户ID", "客户编号", "Customer ID", "customerId")),
            Field("customer", T.TEXT, ("客户", "客户名称", "客户名", "Customer",
                                       "Customer Name")),
            Field("company", T.TEXT, ("公司名称", "公司", "Company", "Company Name")),
            Field("country", T.TEXT, ("国家/地区", "国家", "Country", "Country/Region")),
            Field("email", T.TEXT, ("邮箱", "Email", "E-mail")),
            Field("owner", T.TEXT, ("业务员", "负责人", "Owner", "Salesperson")),
            Field("stage", T.TEXT, ("客户阶段", "阶段", "Stage", "Customer Stage")),
            Field("follow_status", T.TEXT, ("跟进状态", "Follow-up Status", "Follow Status")),
            Field("last_contact_at", T.DATETIME, ("小记时间", "最近跟进时间", "最后跟进时间",
                                                  "Last Follow-up", "Last Contact")),
            Field("created_at", T.DATETIME, ("建档时间", "创建时间", "Created", "Created Time")),
            Field("order_count", T.INT, ("订单总数", "订单数", "Orders", "Order Count")),
            Field("last_order_at", T.DATETIME, ("最近下单时间", "最后下单时间", "最后订单日期",
                                                "Last Order", "Last Order Date")),
        ),
    ),
    ReportKind(
        "orders",
        "Trade Assurance orders",
        noun="a Trade Assurance order list",
        keys=(("order_id",),),
        date_field="ordered_at",
        file_hints=("order", "订单", "信保"),
        fields=(
            Field("order_id", T.TEXT, ("订单号", "订单ID", "订单编号", "Order ID", "Order No",
                                       "Order Number", "trade_id", "order_id"), required=True),
            Field("buyer", T.TEXT, ("买家", "买家名称", "客户", "Buyer", "buyer_name")),
            Field("company", T.TEXT, ("买家公司", "公司名称", "Company", "Buyer Company")),
            Field("country", T.TEXT, ("国家/地区", "国家", "Country")),
            Field("email", T.TEXT, ("买家邮箱", "邮箱", "Email")),
            Field("amount", T.MONEY, ("金额", "订单金额", "Amount", "Order Amount",
                                      "total_amount")),
            Field("currency", T.TEXT, ("币种", "Currency"), default="USD"),
            Field("status", T.TEXT, ("订单状态", "状态", "Status", "trade_status")),
            Field("ordered_at", T.DATETIME, ("下单时间", "创建时间", "Order Date", "Order Time",
                                             "Created", "create_date")),
            Field("ship_by", T.DATE, ("交货期", "最晚发货时间", "发货期限", "Ship By",
                                      "Ship-by Date", "shipping_date")),
            Field("shipped_at", T.DATETIME, ("发货时间", "Shipped", "Shipped At")),
        ),
    ),
    ReportKind(
        "posts",
        "Fan posts",
        noun="a fan-post list",
        keys=(("post_id",), ("published_at", "title")),
        date_field="published_at",
        file_hints=("post", "feed", "粉丝通", "帖子"),
        fields=(
            Field("post_id", T.TEXT, ("帖子ID", "内容ID", "Post ID", "postId")),
            Field("published_at", T.DATETIME, ("发布时间", "Published", "Publish Time",
                                               "Published At"), required=True),
            Field("title", T.TEXT, ("标题", "内容标题", "Title")),
            Field("post_type", T.TEXT, ("类型", "内容类型", "Type", "Post Type")),
            Field("views", T.INT, ("浏览", "浏览量", "曝光", "Views", "Impressions")),
            Field("likes", T.INT, ("点赞", "点赞数", "Likes")),
        ),
    ),
)

KIND_BY_NAME: dict[str, ReportKind] = {k.name: k for k in KINDS}

_IGNORED = re.compile(r"[\s_\-%()（）\[\]【】:：*#.]+")


def normalize_header(text: object) -> str:
    """The comparable form of a header cell: "Product ID" == "product_id" == "productId"."""
    return _IGNORED.sub("", unicodedata.normalize("NFKC", str(text)).strip().lower())


def alias_index(kind: ReportKind) -> dict[str, str]:
    """Normalized alias -> field name, for one kind."""
    index: dict[str, str] = {}
    for f in kind.fields:
        for alias in (f.name, *f.aliases):
            index.setdefault(normalize_header(alias), f.name)
    return index


ALIASES: dict[str, dict[str, str]] = {k.name: alias_index(k) for k in KINDS}


def header_example(kind: ReportKind, field_name: str) -> str:
    """How a column is called in exports, for messages: "产品ID / Product ID"."""
    f = kind.by_name.get(field_name)
    if f is None:  # period_start / period_end: not columns, taken from the title or name
        return field_name
    chinese = next((a for a in f.aliases if not a.isascii()), None)
    english = next((a for a in f.aliases if a.isascii()), f.name)
    return f"{chinese} / {english}" if chinese else english


def required_columns(kind: ReportKind) -> str:
    """The columns a kind cannot do without, for messages: "日期 / Date"."""
    if not kind.required:  # e.g. customers: any one of its key columns will do
        names = dict.fromkeys(alternative[0] for alternative in kind.keys)
        return "one of " + ", ".join(header_example(kind, n) for n in names)
    return " and ".join(header_example(kind, f.name) for f in kind.required)
