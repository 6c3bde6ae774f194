"""Deterministic generator of messy, labelled customer data for custdata's benchmarks.

    python benchmarks/datagen.py --contacts 100000 --out DIR [--seed 7]
        [--orders-per-contact 10] [--interactions-per-contact 2] [--dup-share 0.15]

Writes four UTF-8 CSV files (RFC 4180, header first, LF line ends) into DIR:

``contacts.csv``
    external_id,name,gender,birth_date,company,title,email,phone,id_number,address,
    city,province,postal_code,country,source,owner,consent,created_at,updated_at.
    Exactly ``--contacts`` rows. ``external_id`` is ``C`` + a zero-padded row number
    (``C0000001``), unique; duplicate records of one person get different ids.
``truth.csv``
    external_id,person_id: records of the same real person share ``person_id``
    (``P0000001``). This is the dedupe ground truth.
``orders.csv``
    order_id,customer_id,order_date,amount,currency,status,product,category;
    ``customer_id`` is a contact's ``external_id``; ISO dates; amounts with 2
    decimals; currency ``CNY``; status ``paid`` / ``cancelled`` / ``refunded``
    (a refund is its own row ``<order_id>-R`` with a negative amount, dated 1-30
    days after the order it refunds).
``interactions.csv``
    customer_id,at,channel,direction,outcome,satisfaction,note; ``at`` is
    ``YYYY-MM-DD HH:MM``; satisfaction 1-5 or empty.
``params.json``
    the parameters actually used, including the solved BG/NBD ``alpha``.

People (``person_id``)
    ``chinese_share`` (0.65) are Chinese customers: names in characters (common
    family and given names are weighted by frequency, so different people share
    names such as 张伟 - they always have different phones and emails and usually
    different cities), sometimes in pinyin (``Zhang Wei``, ``ZHANG Wei``) or with
    given/family swapped (``Wei Zhang``), a space or a full-width space inside
    (``张 伟``), companies with full-width brackets (华信科技（北京）有限公司),
    30 % carry a valid 18-digit resident ID number (correct ISO 7064 check digit,
    birth date and gender digit consistent with the record; some with lower-case x).
    The others are Western customers (US, GB, DE, AU, CA, SG) with nicknames in
    their duplicates (Bob/Robert, Bill/William, ...), typos, ``Last, First`` order
    and occasional full-width letters.
    ``lead_share`` (0.10) of people never buy (leads, no orders).
Mess (per record, independent draws)
    phones as ``13800138000``, ``138 0013 8000``, ``138-0013-8000``,
    ``+86 138 0013 8000``, ``+86-13800138000``, ``0086 13800138000``,
    ``(+86)13800138000``, ``tel:+86-138-0013-8000``, full-width digits, landlines
    ``(010) 6552-1234`` / ``010-65521234`` with extensions ``ext. 8021``, a few
    placeholders ``N/A`` / ``-``, 4 % empty; emails in upper or mixed case, with
    surrounding spaces, full-width ``＠``, typo domains (gmial.com, qq.con, 163.cm,
    hotmial.com), 8 % empty; dates as ``1985-03-12``, ``1985/3/12``, ``19850312``,
    ``12/03/1985`` (day first); gender as M/F/男/女/male/female/empty; country as
    CN/China/中国/empty, US/USA/United States, ...; consent yes/no/Y/N/是/否/unknown.
    All phones that are not placeholders or deliberate digit slips are valid numbers for
    phonenumbers; mobile numbers and e-mails are unique per person (bijections of the
    person index, up to 10 million people), ID numbers are unique, landlines unique up to
    1 million people.
Duplicates
    ``dup_share`` (0.15) of people get 1-3 extra records (weights 0.6/0.3/0.1), each
    a variation: the name in another script/order, a nickname or a typo; the phone
    re-formatted, missing or replaced by a landline; the e-mail re-cased, with a typo
    domain, missing or replaced by another address; the birth date re-formatted,
    missing, or with two digits transposed / day and month swapped; the company,
    city and address in another spelling. Every extra record keeps at least one exact
    identifier of the person (normalized e-mail, normalized phone or ID number), except
    that for ``hard_dup_share`` (5 %) of the duplicated people each extra record has a
    50 % chance to be "hard": no shared e-mail, phone or ID number, only the name
    (variant), exact birth date, city and company agree. Records are shuffled within
    blocks of 20,000 people, so duplicates are never simply adjacent.
Orders: a BG/NBD process (Fader, Hardie & Lee 2005), per buying person
    first order on an acquisition day uniform over the ``years`` (3) ending at
    ``END`` (2026-10-31); repeat purchases arrive as a Poisson process with rate
    ``lambda ~ Gamma(shape=r, rate=alpha)`` per day; after each repeat purchase the
    person drops out for good with probability ``p ~ Beta(a, b)``. Defaults r=1.3,
    a=1.2, b=18.0 (mean p 0.0625); ``alpha`` is solved (closed-form BG/NBD E[X(t)]) so that the
    file holds about ``orders_per_contact`` x contacts rows. 85 % of a person's
    orders carry the external_id of the person's first record, the rest one of the
    person's other records. Amount = the person's spend level (log-normal, median
    260 CNY) x Gamma(4, 1/4) noise. ``cancel_rate`` (2 %) of orders are cancelled,
    ``refund_rate`` (4 %) of paid orders get a refund row (60 % full, else partial).
Interactions
    about ``interactions_per_contact`` per person, uniform over the person's life;
    channels call/email/wechat/visit/social; satisfaction given 60 % of the time,
    mean 4.3 - 6 (p - 0.06), and 1.6 lower from 120 days before a person's drop-out
    (their last purchase) onward, so churn models have signal beyond purchases.

Other knobs: ``id_prefix`` ("C") starts every external_id; ``pid_offset`` (0) shifts
the person index that phones, e-mails and ID numbers are derived from, so that two
data sets generated with different offsets share no person, phone or e-mail.

Memory stays small: people are generated in blocks and every file is written as it
goes (1M contacts / 10M orders need a few hundred MB at most). The output depends
only on the parameters (same seed -> same bytes). Importable: ``generate(out_dir,
Params(contacts=1000))`` returns a dict of counts; the building blocks
(``phone_variants``, ``id_number``, ``CN_CITIES``, ...) are reused by
``examples/make_examples.py``.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

END = date(2026, 10, 31)
CONTACT_HEADER = (
    "external_id", "name", "gender", "birth_date", "company", "title", "email", "phone",
    "id_number", "address", "city", "province", "postal_code", "country", "source",
    "owner", "consent", "created_at", "updated_at",
)
ORDER_HEADER = ("order_id", "customer_id", "order_date", "amount", "currency", "status",
                "product", "category")
INTERACTION_HEADER = ("customer_id", "at", "channel", "direction", "outcome",
                      "satisfaction", "note")
BLOCK = 20_000  # people per block; fixed so that the output never depends on it


@dataclass(frozen=True)
class Params:
    """Every knob of the generator (see the module docstring)."""

    contacts: int = 100_000
    seed: int = 7
    orders_per_contact: float = 10.0
    interactions_per_contact: float = 2.0
    dup_share: float = 0.15
    hard_dup_share: float = 0.05
    chinese_share: float = 0.65
    lead_share: float = 0.10
    id_share: float = 0.30
    refund_rate: float = 0.04
    cancel_rate: float = 0.02
    years: int = 3
    end: str = END.isoformat()
    id_prefix: str = "C"
    pid_offset: int = 0
    r: float = 1.3
    a: float = 1.2
    b: float = 18.0


# ---------------------------------------------------------------------------
# Pools
# ---------------------------------------------------------------------------
# (characters, pinyin, weight) - weights roughly follow name frequency in China.
CN_FAMILY = [
    ("王", "Wang", 7.1), ("李", "Li", 7.0), ("张", "Zhang", 6.7), ("刘", "Liu", 5.4),
    ("陈", "Chen", 4.5), ("杨", "Yang", 3.1), ("黄", "Huang", 2.2), ("赵", "Zhao", 2.0),
    ("吴", "Wu", 2.0), ("周", "Zhou", 1.9), ("徐", "Xu", 1.3), ("孙", "Sun", 1.2),
    ("马", "Ma", 1.1), ("朱", "Zhu", 1.1), ("胡", "Hu", 1.0), ("郭", "Guo", 1.0),
    ("何", "He", 0.9), ("高", "Gao", 0.9), ("林", "Lin", 0.9), ("罗", "Luo", 0.8),
    ("郑", "Zheng", 0.8), ("梁", "Liang", 0.7), ("谢", "Xie", 0.6), ("宋", "Song", 0.6),
    ("唐", "Tang", 0.5), ("韩", "Han", 0.5), ("冯", "Feng", 0.4), ("邓", "Deng", 0.4),
    ("曹", "Cao", 0.4), ("彭", "Peng", 0.4), ("欧阳", "Ouyang", 0.05), ("司马", "Sima", 0.02),
]
# (characters, pinyin, gender, weight)
CN_GIVEN = [
    ("伟", "Wei", "M", 5.0), ("芳", "Fang", "F", 4.0), ("娜", "Na", "F", 3.5),
    ("敏", "Min", "F", 3.0), ("静", "Jing", "F", 3.0), ("丽", "Li", "F", 2.5),
    ("强", "Qiang", "M", 2.5), ("磊", "Lei", "M", 2.4), ("军", "Jun", "M", 2.3),
    ("洋", "Yang", "M", 2.0), ("勇", "Yong", "M", 2.0), ("艳", "Yan", "F", 2.0),
    ("杰", "Jie", "M", 2.0), ("娟", "Juan", "F", 1.8), ("涛", "Tao", "M", 1.8),
    ("明", "Ming", "M", 1.7), ("超", "Chao", "M", 1.7), ("秀英", "Xiuying", "F", 1.6),
    ("霞", "Xia", "F", 1.5), ("平", "Ping", "M", 1.4), ("刚", "Gang", "M", 1.4),
    ("桂英", "Guiying", "F", 1.2), ("建华", "Jianhua", "M", 1.0), ("晓明", "Xiaoming", "M", 1.0),
    ("子涵", "Zihan", "F", 0.9), ("浩然", "Haoran", "M", 0.9), ("雨桐", "Yutong", "F", 0.8),
    ("欣怡", "Xinyi", "F", 0.8), ("梓萱", "Zixuan", "F", 0.7), ("宇轩", "Yuxuan", "M", 0.7),
    ("思远", "Siyuan", "M", 0.6), ("志强", "Zhiqiang", "M", 0.6), ("海燕", "Haiyan", "F", 0.6),
    ("文博", "Wenbo", "M", 0.5), ("嘉怡", "Jiayi", "F", 0.5), ("俊杰", "Junjie", "M", 0.5),
    ("婷婷", "Tingting", "F", 0.5), ("晨", "Chen", "M", 0.5), ("鑫", "Xin", "M", 0.5),
    ("佳", "Jia", "F", 0.5), ("国庆", "Guoqing", "M", 0.3), ("红梅", "Hongmei", "F", 0.3),
]
# (city, province, city pinyin, postal code, area code, landline digits, ID region, districts)
CN_CITIES = [
    ("北京", "北京市", "Beijing", "100020", "10", 8, "110105", ("朝阳区", "海淀区", "东城区")),
    ("上海", "上海市", "Shanghai", "200120", "21", 8, "310115", ("浦东新区", "徐汇区", "静安区")),
    ("广州", "广东省", "Guangzhou", "510620", "20", 8, "440106", ("天河区", "越秀区")),
    ("深圳", "广东省", "Shenzhen", "518057", "755", 8, "440305", ("南山区", "福田区")),
    ("杭州", "浙江省", "Hangzhou", "310012", "571", 8, "330106", ("西湖区", "滨江区")),
    ("南京", "江苏省", "Nanjing", "210008", "25", 8, "320106", ("鼓楼区", "玄武区")),
    ("苏州", "江苏省", "Suzhou", "215021", "512", 8, "320505", ("虎丘区", "姑苏区")),
    ("成都", "四川省", "Chengdu", "610041", "28", 8, "510107", ("武侯区", "锦江区")),
    ("武汉", "湖北省", "Wuhan", "430071", "27", 8, "420106", ("武昌区", "江汉区")),
    ("西安", "陕西省", "Xi'an", "710061", "29", 8, "610113", ("雁塔区", "碑林区")),
    ("重庆", "重庆市", "Chongqing", "400010", "23", 8, "500103", ("渝中区", "江北区")),
    ("天津", "天津市", "Tianjin", "300041", "22", 8, "120101", ("和平区", "南开区")),
    ("青岛", "山东省", "Qingdao", "266071", "532", 8, "370202", ("市南区", "崂山区")),
    ("厦门", "福建省", "Xiamen", "361001", "592", 7, "350203", ("思明区", "湖里区")),
    ("长沙", "湖南省", "Changsha", "410013", "731", 8, "430104", ("岳麓区", "天心区")),
    ("郑州", "河南省", "Zhengzhou", "450008", "371", 8, "410105", ("金水区", "二七区")),
]
CN_CITY_WEIGHTS = [9, 9, 7, 7, 6, 5, 5, 5, 4, 4, 4, 4, 3, 3, 3, 3]
CN_STREETS = ["建国路", "中山路", "人民路", "解放路", "长安街", "南京路", "科技园路", "文三路",
              "天府大道", "珠江路", "和平路", "新华路"]
CN_MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150",
                      "151", "152", "155", "156", "158", "159", "166", "177", "180", "181",
                      "186", "187", "188", "189", "191", "199"]
CN_BRANDS = [("华信", "huaxin"), ("恒通", "hengtong"), ("天成", "tiancheng"), ("金泰", "jintai"),
             ("鼎盛", "dingsheng"), ("博远", "boyuan"), ("宏达", "hongda"), ("远航", "yuanhang"),
             ("创新", "chuangxin"), ("星辰", "xingchen"), ("瑞丰", "ruifeng"), ("中科", "zhongke"),
             ("新世纪", "xinshiji"), ("联合", "lianhe"), ("东方", "dongfang")]
CN_INDUSTRIES = ["科技", "贸易", "电子", "信息技术", "建材", "餐饮管理", "物流", "医疗器械",
                 "教育咨询", "文化传媒"]
CN_TITLES = ["经理", "销售经理", "采购经理", "总经理", "市场总监", "工程师", "财务主管", "行政专员",
             "技术总监", "董事长", ""]
CN_FREE_MAIL = ["163.com", "126.com", "sina.com", "qq.com", "foxmail.com", "gmail.com"]

# first name, nicknames, gender
WEST_FIRST = [
    ("Robert", ("Bob", "Rob", "Bobby"), "M"), ("William", ("Bill", "Will", "Billy"), "M"),
    ("Richard", ("Rick", "Dick"), "M"), ("James", ("Jim", "Jimmy"), "M"),
    ("John", ("Jack", "Johnny"), "M"), ("Michael", ("Mike",), "M"),
    ("Elizabeth", ("Liz", "Beth", "Betty"), "F"), ("Margaret", ("Maggie", "Peggy"), "F"),
    ("Katherine", ("Kate", "Kathy"), "F"), ("Jennifer", ("Jen", "Jenny"), "F"),
    ("Thomas", ("Tom",), "M"), ("Christopher", ("Chris",), "M"), ("Daniel", ("Dan", "Danny"), "M"),
    ("Joseph", ("Joe",), "M"), ("Patricia", ("Pat", "Patty"), "F"), ("Susan", ("Sue",), "F"),
    ("Anthony", ("Tony",), "M"), ("Andrew", ("Andy", "Drew"), "M"), ("Alexander", ("Alex",), "M"),
    ("Edward", ("Ed", "Ted"), "M"), ("Charles", ("Charlie", "Chuck"), "M"),
    ("David", ("Dave",), "M"), ("Steven", ("Steve",), "M"), ("Matthew", ("Matt",), "M"),
    ("Nicholas", ("Nick",), "M"), ("Samantha", ("Sam",), "F"), ("Rebecca", ("Becky",), "F"),
    ("Victoria", ("Vicky",), "F"), ("Emily", (), "F"), ("Sarah", (), "F"), ("Laura", (), "F"),
    ("Anna", (), "F"), ("Maria", (), "F"), ("Peter", ("Pete",), "M"), ("Benjamin", ("Ben",), "M"),
]
WEST_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
             "Anderson", "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White",
             "Harris", "Clark", "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott",
             "Green", "Baker", "Adams", "Nelson", "Müller", "Schmidt", "O'Brien", "García",
             "Nguyen", "Fischer", "Evans"]
# (city, state, country spellings, postal code, phone prefix, local digits, first digits)
WEST_CITIES = [
    ("New York", "NY", ("US", "USA", "United States", "us"), "10001", "+1 212", 7, "2346789"),
    ("San Francisco", "CA", ("US", "USA", "United States"), "94103", "+1 415", 7, "2346789"),
    ("Chicago", "IL", ("US", "USA", "U.S."), "60601", "+1 312", 7, "2346789"),
    ("London", "", ("GB", "UK", "United Kingdom", "England"), "SW1A 1AA", "+44 20", 8, "378"),
    ("Berlin", "", ("DE", "Germany", "Deutschland"), "10115", "+49 30", 8, "2345678"),
    ("Sydney", "NSW", ("AU", "Australia"), "2000", "+61 2", 8, "89"),
    ("Toronto", "ON", ("CA", "Canada"), "M5H 2N2", "+1 416", 7, "2346789"),
    ("Singapore", "", ("SG", "Singapore"), "018956", "+65", 8, "68"),
]
WEST_STREETS = ["Main St", "Market Street", "High Street", "Oak Avenue", "King St W",
                "Friedrichstraße", "George Street", "Orchard Road"]
WEST_BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay",
               "Soylent", "Cyberdyne", "Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip"]
WEST_SUFFIXES = ["Inc.", "Ltd", "LLC", "GmbH", "Corp.", "Co."]
WEST_TITLES = ["Manager", "Sales Director", "Purchasing Manager", "CEO", "Engineer",
               "Marketing Lead", "Accountant", "Office Manager", "CTO", ""]
WEST_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.com", "icloud.com"]
TYPO_DOMAINS = {"gmail.com": "gmial.com", "qq.com": "qq.con", "163.com": "163.cm",
                "hotmail.com": "hotmial.com", "outlook.com": "outlok.com", "126.com": "126.cm",
                "yahoo.com": "yaho.com", "sina.com": "sina.cn"}
SOURCES = ["web", "wechat", "trade_show", "referral", "cold_call", "import", "官网", "展会"]
OWNERS = ["Alice Chen", "Bob Lee", "王磊", "李静", "Carol Wu", "张敏", "David Zhou", "刘洋"]
CONSENT = ["yes", "yes", "yes", "no", "unknown", "Y", "N", "是", "否", ""]
CATALOG = [  # product, category
    ("Wireless Mouse", "Electronics"), ("USB-C Hub", "Electronics"), ("Laptop Stand", "Office"),
    ("A4 Paper (box)", "Office"), ("Ink Cartridge", "Office"), ("Green Tea 250g", "Food"),
    ("Coffee Beans 1kg", "Food"), ("蓝牙耳机", "Electronics"), ("保温杯", "Home"),
    ("Desk Lamp", "Home"), ("Office Chair", "Furniture"), ("Standing Desk", "Furniture"),
    ("Software License", "Software"), ("Support Plan", "Services"), ("Training Day", "Services"),
    ("月饼礼盒", "Food"), ("Printer", "Electronics"), ("Water Filter", "Home"),
]
CHANNELS = ["call", "email", "wechat", "visit", "social"]
CHANNEL_P = [0.35, 0.25, 0.25, 0.10, 0.05]
OUTCOMES = {
    "call": ["answered", "no_answer", "voicemail", "callback", "complaint"],
    "email": ["replied", "no_reply", "quote_sent", "bounced"],
    "wechat": ["replied", "no_reply", "quote_sent", "order_placed"],
    "visit": ["meeting", "demo", "order_placed"],
    "social": ["comment", "message", "complaint"],
}
NOTES = ["", "", "", "follow up next week", "asked for a quote", "price too high, comparing",
         "客户要求发票", "已发报价单", "delivery late, unhappy", "wants a demo", "回访满意",
         "renewal discussed", "投诉物流慢", "interested in bulk order, 10+ units", "no answer"]
FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in
             "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz@"}


# ---------------------------------------------------------------------------
# Small building blocks (pure, seeded through the `rnd` argument)
# ---------------------------------------------------------------------------
def to_fullwidth(text: str) -> str:
    """Full-width form of ASCII letters, digits and @: "138" -> "１３８"."""
    return "".join(FULLWIDTH.get(c, c) for c in text)


def unique_code(index: int, modulus: int, mult: int = 2654435761, offset: int = 0) -> int:
    """A bijection of [0, modulus) (mult coprime to modulus): distinct people, distinct codes."""
    return (index * mult + offset) % modulus


def id_check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a Chinese resident ID number."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights))
    return "10X98765432"[total % 11]


def id_number(region: str, birth: date, seq: int, gender: str) -> str:
    """A valid 18-digit resident ID: region + YYYYMMDD + 3-digit sequence (odd = male) + check."""
    seq = seq % 500 * 2 + (1 if gender == "M" else 0)
    body = f"{region}{birth:%Y%m%d}{seq:03d}"
    return body + id_check_digit(body)


def phone_variants(e164_national: str, country_code: str) -> list[str]:
    """Ways people write one mobile number; national digits like "13800138000"."""
    n = e164_national
    if country_code == "86" and len(n) == 11:
        spaced = f"{n[:3]} {n[3:7]} {n[7:]}"
        return [n, n, spaced, f"{n[:3]}-{n[3:7]}-{n[7:]}", f"+86 {spaced}", f"+86-{n}",
                f"0086 {n}", f"(+86){n}", f"tel:+86-{n[:3]}-{n[3:7]}-{n[7:]}", to_fullwidth(n),
                f"+86{n}", f"{spaced} "]
    return [f"+{country_code} {n}", f"+{country_code}{n}", f"00{country_code} {n}"]


def format_date(d: date, style: int) -> str:
    """One of the ways spreadsheets write a date (style 0..3)."""
    if style == 0:
        return d.isoformat()
    if style == 1:
        return f"{d.year}/{d.month}/{d.day}"
    if style == 2:
        return f"{d:%Y%m%d}"
    return f"{d:%d/%m/%Y}"


def transpose_digits(text: str, rnd: random.Random) -> str:
    """Swap two adjacent, different digits (a typing slip); unchanged if impossible."""
    spots = [i for i in range(len(text) - 1)
             if text[i].isdigit() and text[i + 1].isdigit() and text[i] != text[i + 1]]
    if not spots:
        return text
    i = rnd.choice(spots)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def typo(word: str, rnd: random.Random) -> str:
    """One deletion, doubling, substitution or transposition inside a word of >= 4 letters."""
    if len(word) < 4:
        return word
    i = rnd.randrange(1, len(word) - 1)
    kind = rnd.randrange(4)
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2:
        return word[:i] + rnd.choice("aeiounrst") + word[i + 1:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _weighted(pool: list, weight_index: int) -> tuple[list, list[float]]:
    weights = [item[weight_index] for item in pool]
    total = sum(weights)
    acc, cum = 0.0, []
    for w in weights:
        acc += w / total
        cum.append(acc)
    return pool, cum


_FAMILY = _weighted(CN_FAMILY, 2)
_GIVEN = _weighted(CN_GIVEN, 3)


def _pick(weighted: tuple[list, list[float]], rnd: random.Random):
    pool, cum = weighted
    return pool[min(bisect.bisect_right(cum, rnd.random()), len(pool) - 1)]


# ---------------------------------------------------------------------------
# People and their records
# ---------------------------------------------------------------------------
def make_person(pid: int, rnd: random.Random, chinese: bool, id_share: float,
                taken_ids: set[str] | None = None) -> dict:
    """One real person: the true values every record of this person is derived from.

    `taken_ids` (ID numbers already issued) keeps ID numbers unique across people.
    """
    birth = date(1961, 1, 1) + timedelta(days=rnd.randrange(45 * 365))
    code = unique_code(pid, 10**7)
    p: dict = {"pid": pid, "chinese": chinese, "birth": birth}
    if chinese:
        fam, fam_py, _ = _pick(_FAMILY, rnd)
        giv, giv_py, gender, _ = _pick(_GIVEN, rnd)
        city = CN_CITIES[rnd.choices(range(len(CN_CITIES)), CN_CITY_WEIGHTS)[0]]
        brand, brand_py = rnd.choice(CN_BRANDS)
        industry = rnd.choice(CN_INDUSTRIES)
        national = rnd.choice(CN_MOBILE_PREFIXES) + f"{unique_code(pid, 10**8, 48271, 1234):08d}"
        kind = rnd.random()
        local = f"{fam_py}{giv_py}".lower()
        if kind < 0.3:
            email = f"{10000 + unique_code(pid, 10**9, 1103515245, 77)}@qq.com"
        elif kind < 0.7:
            email = f"{local}{code}@{rnd.choice(CN_FREE_MAIL)}"
        else:
            email = f"{giv_py.lower()}.{fam_py.lower()}{code}@{brand_py}.com.cn"
        p.update(
            family=fam, given=giv, family_py=fam_py, given_py=giv_py, gender=gender,
            city=city, company=f"{city[0]}{brand}{industry}有限公司", brand=brand,
            industry=industry, title=rnd.choice(CN_TITLES), country_code="86", national=national,
            landline=f"{rnd.choice('5678')}{unique_code(pid, 10 ** (city[5] - 1), 7919, 3):0{city[5] - 1}d}",
            email=email,
            address=f"{city[1]}{city[0] + '市' if not city[1].startswith(city[0]) else ''}"
                    f"{rnd.choice(city[7])}{rnd.choice(CN_STREETS)}{rnd.randrange(1, 400)}号",
            id_number=_fresh_id(city[6], birth, pid, gender, taken_ids)
            if rnd.random() < id_share else "",
        )
    else:
        first, nicks, gender = rnd.choice(WEST_FIRST)
        last = rnd.choice(WEST_LAST)
        city = rnd.choice(WEST_CITIES)
        brand = rnd.choice(WEST_BRANDS)
        digits = city[5]
        tail = unique_code(pid, 10 ** (digits - 1), 48271, 99)
        national = f"{rnd.choice(city[6])}{tail:0{digits - 1}d}"
        slug = "".join(c for c in last.lower() if c.isascii() and c.isalpha())
        email = (f"{first.lower()}.{slug}{code}@{rnd.choice(WEST_MAIL)}" if rnd.random() < 0.6
                 else f"{first[0].lower()}{slug}{code}@{brand.lower()}.com")
        p.update(
            first=first, nicks=nicks, last=last, gender=gender, city=city,
            company=f"{brand} {rnd.choice(WEST_SUFFIXES)}", brand=brand,
            title=rnd.choice(WEST_TITLES), country_code=city[4].split()[0][1:],
            national=city[4].split(" ", 1)[1].replace(" ", "") + national if " " in city[4]
            else national,
            email=email, address=f"{rnd.randrange(1, 999)} {rnd.choice(WEST_STREETS)}",
            id_number="",
        )
    return p


def _fresh_id(region: str, birth: date, pid: int, gender: str, taken: set[str] | None) -> str:
    seq = unique_code(pid, 500, 7, 1)
    number = id_number(region, birth, seq, gender)
    while taken is not None and number in taken:
        seq += 1
        number = id_number(region, birth, seq, gender)
    if taken is not None:
        taken.add(number)
    return number


def _name(p: dict, rnd: random.Random, dup: bool) -> str:
    if p["chinese"]:
        roll = rnd.random()
        if roll < (0.55 if dup else 0.80):
            name = p["family"] + p["given"]
            extra = rnd.random()
            if extra < 0.04:
                name = p["family"] + " " + p["given"]
            elif extra < 0.06:
                name = p["family"] + "\u3000" + p["given"]
            elif extra < 0.08:
                name = " " + name
            return name
        fam, giv = p["family_py"], p["given_py"]
        roll = rnd.random()
        if roll < 0.35:
            return f"{fam} {giv}"
        if roll < 0.65:
            return f"{giv} {fam}"
        if roll < 0.8:
            return f"{fam.upper()} {giv}"
        if roll < 0.9:
            return f"{fam.lower()} {giv.lower()}"
        return f"{fam}{giv}"
    first, last = p["first"], p["last"]
    if dup:
        roll = rnd.random()
        if roll < 0.35 and p["nicks"]:
            first = rnd.choice(p["nicks"])
        elif roll < 0.55:
            last = typo(last, rnd)
        elif roll < 0.65:
            first = typo(first, rnd)
    roll = rnd.random()
    if roll < 0.08:
        return f"{last}, {first}"
    if roll < 0.13:
        return f"{first} {last}".upper()
    if roll < 0.16:
        return to_fullwidth(f"{first} {last}")
    if roll < 0.20:
        return f"{first}  {last} "
    return f"{first} {last}"


def _email(p: dict, rnd: random.Random, dup: bool) -> tuple[str, bool]:
    """(rendered email, keeps the person's email key)."""
    roll = rnd.random()
    if roll < (0.15 if dup else 0.08):
        return "", False
    email = p["email"]
    same = True
    if dup:
        roll = rnd.random()
        if roll < 0.12:
            local, domain = email.split("@")
            email = f"{local}@{TYPO_DOMAINS.get(domain, domain + '.')}"
            same = False
        elif roll < 0.22:
            handle = (p["given_py"] if p["chinese"] else p["first"]).lower()
            email = f"{handle}{p['pid']}@{rnd.choice(CN_FREE_MAIL if p['chinese'] else WEST_MAIL)}"
            same = False
    elif rnd.random() < 0.01:
        local, domain = email.split("@")
        email = f"{local}@{TYPO_DOMAINS.get(domain, domain)}"
    roll = rnd.random()
    if roll < 0.10:
        email = email.upper()
    elif roll < 0.18:
        email = email[0].upper() + email[1:]
    elif roll < 0.24:
        email = f" {email} "
    elif roll < 0.26:
        email = email.replace("@", "＠")
    return email, same


def _phone(p: dict, rnd: random.Random, dup: bool) -> tuple[str, bool]:
    """(rendered phone, keeps the person's phone key)."""
    roll = rnd.random()
    if roll < (0.20 if dup else 0.04):
        return "", False
    if roll < (0.21 if dup else 0.045):
        return rnd.choice(["N/A", "-", "0", "无"]), False
    chinese = p["chinese"]
    if chinese and rnd.random() < (0.15 if dup else 0.08):
        city = p["city"]
        area, local = city[4], p["landline"]
        half = len(local) // 2
        text = rnd.choice([f"(0{area}) {local[:half]}-{local[half:]}", f"0{area}-{local}",
                           f"+86 {area} {local}", f"0{area} {local[:half]} {local[half:]}"])
        if rnd.random() < 0.3:
            text += rnd.choice([" ext. ", " x", " ext "]) + str(rnd.randrange(10, 9000))
        return text, False
    text = rnd.choice(phone_variants(p["national"], p["country_code"]))
    if dup and rnd.random() < 0.05:
        return transpose_digits(text, rnd), False
    return text, True


def _birth(p: dict, rnd: random.Random, dup: bool) -> str:
    roll = rnd.random()
    if roll < (0.20 if dup else 0.15):
        return ""
    birth = p["birth"]
    style = rnd.choices((0, 1, 2, 3), (0.6, 0.2, 0.1, 0.1))[0]
    text = format_date(birth, style)
    if dup and rnd.random() < 0.15:
        if birth.day <= 12 and birth.day != birth.month and style == 0:
            return f"{birth.year}-{birth.day:02d}-{birth.month:02d}"
        return transpose_digits(text, rnd)
    return text


def _gender(p: dict, rnd: random.Random) -> str:
    male = p["gender"] == "M"
    return rnd.choices((["M", "男", "male", "Male", ""] if male else ["F", "女", "female", "Female", ""]),
                       (0.4, 0.3 if p["chinese"] else 0.05, 0.1, 0.1, 0.1))[0]


def _place(p: dict, rnd: random.Random, dup: bool) -> tuple[str, str, str, str, str, str]:
    """(company, address, city, province, postal_code, country)."""
    city = p["city"]
    if p["chinese"]:
        company = p["company"]
        roll = rnd.random()
        if roll < (0.3 if dup else 0.05):
            company = f"{p['brand']}{p['industry']}（{city[0]}）有限公司"
        elif roll < (0.45 if dup else 0.08):
            company = company.replace("有限公司", "有限责任公司")
        elif roll < (0.55 if dup else 0.10):
            company = company.replace("有限公司", "")
        elif roll < (0.60 if dup else 0.11):
            company = f"{p['brand']}{p['industry']}({city[0]})有限公司"
        address = p["address"] if rnd.random() > (0.3 if dup else 0.1) else ""
        if dup and address and rnd.random() < 0.3:
            address = address.replace(city[1], "", 1)
        cname = rnd.choices([city[0], city[0] + "市", city[2], ""], (0.6, 0.25, 0.1, 0.05))[0]
        province = city[1] if rnd.random() > 0.1 else ""
        postal = city[3] if rnd.random() > 0.2 else ""
        country = rnd.choices(["CN", "China", "中国", "", "cn"], (0.5, 0.15, 0.2, 0.1, 0.05))[0]
        return company, address, cname, province, postal, country
    company = p["company"]
    if rnd.random() < (0.4 if dup else 0.05):
        company = rnd.choice([company.upper(), company.split()[0], company.replace(".", "")])
    address = p["address"] if rnd.random() > 0.1 else ""
    return (company, address, city[0] if rnd.random() > 0.05 else city[0].upper(), city[1],
            city[3] if rnd.random() > 0.15 else "", rnd.choice(city[2]))


def _stamp(day: date, rnd: random.Random) -> str:
    style = rnd.random()
    if style < 0.75:
        return f"{day.isoformat()} {rnd.randrange(8, 20):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}"
    if style < 0.9:
        return f"{day.year}/{day.month}/{day.day} {rnd.randrange(8, 20)}:{rnd.randrange(60):02d}"
    return day.isoformat()


def make_record(p: dict, rnd: random.Random, *, dup: bool, created: date, end: date,
                hard: bool = False) -> list[str]:
    """One contact row (without external_id) for person `p`; `dup` adds variation."""
    name = _name(p, rnd, dup)
    email, email_same = _email(p, rnd, dup)
    phone, phone_same = _phone(p, rnd, dup)
    id_num = p["id_number"] if p["id_number"] and rnd.random() < (0.6 if dup else 1.0) else ""
    if id_num and rnd.random() < 0.1:
        id_num = id_num.lower()
    birth = _birth(p, rnd, dup)
    if dup and hard:
        email = email if not email_same else ""
        phone = phone if not phone_same else ""
        id_num = ""
        birth = p["birth"].isoformat()
    elif dup and not (email_same or phone_same or id_num):
        phone = rnd.choice(phone_variants(p["national"], p["country_code"]))
    company, address, city, province, postal, country = _place(p, rnd, dup)
    if dup and hard:
        company, city = p["company"], p["city"][0]
    created_text = _stamp(created, rnd)
    updated = created if rnd.random() < 0.3 else created + timedelta(
        days=rnd.randrange(max(1, (end - created).days + 1)))
    return [name, _gender(p, rnd), birth, company,
            rnd.choice(CN_TITLES if p["chinese"] else WEST_TITLES) if dup and rnd.random() < 0.3
            else p["title"], email, phone, id_num, address, city, province, postal, country,
            rnd.choice(SOURCES), rnd.choice(OWNERS), rnd.choice(CONSENT),
            created_text, created_text if updated == created else _stamp(updated, rnd)]


# ---------------------------------------------------------------------------
# Purchases: BG/NBD
# ---------------------------------------------------------------------------
def expected_repeats(t: np.ndarray, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """BG/NBD E[X(t)]: expected repeat purchases in (0, t] (Fader, Hardie & Lee 2005, eq. 9)."""
    from scipy.special import hyp2f1

    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


def solve_alpha(target_orders_per_buyer: float, days: int, r: float, a: float, b: float) -> float:
    """The Gamma rate `alpha` giving `target` orders (first + repeats) per buyer on average."""
    from scipy.optimize import brentq

    grid = np.linspace(0, days - 1, 256)

    def gap(log_alpha: float) -> float:
        return 1 + float(expected_repeats(grid, r, math.exp(log_alpha), a, b).mean()) \
            - target_orders_per_buyer

    lo, hi = math.log(1e-3), math.log(1e7)
    if gap(lo) < 0:
        raise ValueError("orders_per_contact too high for the dropout parameters a, b")
    if gap(hi) > 0:
        return math.exp(hi)
    return math.exp(brentq(gap, lo, hi, xtol=1e-6))


def simulate_purchases(rng: np.random.Generator, n: int, horizon: np.ndarray, r: float,
                       alpha: float, a: float, b: float) -> tuple[np.ndarray, ...]:
    """Repeat-purchase times of `n` BG/NBD customers observed for `horizon` days each.

    Returns (owner index per purchase, day offset per purchase, p per customer,
    dropout day per customer or -1 if still alive at the horizon).
    """
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    drop_after = rng.geometric(p)  # number of repeat purchases before dropping out
    mean = lam * horizon
    cap = np.ceil(mean + 6 * np.sqrt(mean) + 3).astype(np.int64)
    draws = np.minimum(drop_after, cap)
    owner = np.repeat(np.arange(n), draws)
    gaps = rng.exponential(1.0, owner.size) / lam[owner]
    csum = np.cumsum(gaps)
    starts = np.concatenate(([0], np.cumsum(draws)[:-1]))
    base = np.concatenate(([0.0], csum))[starts]
    times = csum - base[owner]
    keep = times < horizon[owner]
    owner, times = owner[keep], times[keep]
    count = np.bincount(owner, minlength=n)
    dropped = (count == drop_after)
    last = np.full(n, -1.0)
    if owner.size:
        ends = np.cumsum(count) - 1
        has = count > 0
        last[has] = times[ends[has]]
    dropout = np.where(dropped, last, -1.0)
    return owner, np.floor(times).astype(np.int64), p, dropout


# ---------------------------------------------------------------------------
# The whole data set
# ---------------------------------------------------------------------------
def _dup_counts(rng: np.random.Generator, params: Params) -> np.ndarray:
    """Extra records per person, trimmed so that people + extras == params.contacts."""
    est = int(params.contacts / (1 + params.dup_share * 1.5)) + 50
    while True:
        has = rng.random(est) < params.dup_share
        extra = np.where(has, rng.choice([1, 2, 3], est, p=[0.6, 0.3, 0.1]), 0)
        total = np.cumsum(1 + extra)
        if total[-1] >= params.contacts:
            break
        est = int(est * 1.2) + 10
    people = int(np.searchsorted(total, params.contacts)) + 1
    extra = extra[:people].copy()
    extra[-1] -= total[people - 1] - params.contacts
    return extra


def generate(out_dir: str | Path, params: Params = Params(), *, log=None) -> dict:
    """Write contacts.csv, truth.csv, orders.csv, interactions.csv and params.json; counts back."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    end = date.fromisoformat(params.end)
    start = end - timedelta(days=365 * params.years)
    days = (end - start).days + 1
    seeds = np.random.SeedSequence(params.seed).spawn(4)
    rng_people, rng_buy, rng_orders, rng_int = (np.random.default_rng(s) for s in seeds)

    extra = _dup_counts(rng_people, params)
    n_people = extra.size
    chinese = rng_people.random(n_people) < params.chinese_share
    buyer = rng_people.random(n_people) >= params.lead_share
    acq = rng_people.integers(0, days, n_people)  # acquisition day (first order for buyers)
    created_lag = rng_people.integers(0, 60, n_people)
    hard = rng_people.random(n_people) < params.hard_dup_share

    # Records, written block by block; remember each record's person.
    rec_person = np.empty(params.contacts, dtype=np.int64)
    rec_primary = np.empty(n_people, dtype=np.int64)
    width = max(7, len(str(params.contacts)))
    pwidth = max(7, len(str(n_people)))
    prefix = params.id_prefix
    row = 0
    taken_ids: set[str] = set()
    with open(out / "contacts.csv", "w", newline="", encoding="utf-8") as fc, \
            open(out / "truth.csv", "w", newline="", encoding="utf-8") as ft:
        wc, wt = csv.writer(fc, lineterminator="\n"), csv.writer(ft, lineterminator="\n")
        wc.writerow(CONTACT_HEADER)
        wt.writerow(("external_id", "person_id"))
        for lo in range(0, n_people, BLOCK):
            rnd = random.Random(params.seed * 1_000_003 + lo)
            block = []
            for pid in range(lo, min(lo + BLOCK, n_people)):
                p = make_person(pid + params.pid_offset, rnd, bool(chinese[pid]),
                                params.id_share, taken_ids)
                created = start + timedelta(days=int(acq[pid]) - int(created_lag[pid]))
                block.append((pid, True, make_record(p, rnd, dup=False, created=created, end=end)))
                for _ in range(int(extra[pid])):
                    c2 = created + timedelta(days=rnd.randrange(0, max(1, (end - created).days)))
                    block.append((pid, False, make_record(p, rnd, dup=True, created=c2, end=end,
                                                          hard=bool(hard[pid]) and rnd.random() < 0.5)))
            rnd.shuffle(block)
            for pid, primary, values in block:
                ext = f"{prefix}{row + 1:0{width}d}"
                rec_person[row] = pid
                if primary:
                    rec_primary[pid] = row
                wc.writerow((ext, *values))
                wt.writerow((ext, f"P{pid + params.pid_offset + 1:0{pwidth}d}"))
                row += 1
    t_contacts = time.perf_counter() - t0

    # Orders.
    n_buyers = int(buyer.sum())
    rows_per_buyer = params.orders_per_contact * params.contacts / max(1, n_buyers)
    alpha = solve_alpha(rows_per_buyer / (1 + params.refund_rate * (1 - params.cancel_rate)),
                        days, params.r, params.a, params.b)
    order_rec = np.argsort(rec_person, kind="stable")
    rec_count = np.bincount(rec_person, minlength=n_people)
    rec_start = np.concatenate(([0], np.cumsum(rec_count)[:-1]))
    date_text = [(start + timedelta(days=int(d))).isoformat() for d in range(-400, days + 40)]
    ext_width = width
    spend = np.exp(rng_orders.normal(math.log(260), 0.8, n_people))  # per person level
    n_orders = n_refund_rows = 0
    dropout_day = np.full(n_people, -1.0)
    p_all = np.zeros(n_people)
    with open(out / "orders.csv", "w", newline="", encoding="utf-8") as fo:
        wo = csv.writer(fo, lineterminator="\n")
        wo.writerow(ORDER_HEADER)
        for lo in range(0, n_people, BLOCK):
            hi = min(lo + BLOCK, n_people)
            ids = np.arange(lo, hi)[buyer[lo:hi]]
            horizon = (days - 1 - acq[ids]).astype(float)
            owner, offs, p, dropout = simulate_purchases(rng_buy, ids.size, horizon, params.r,
                                                         alpha, params.a, params.b)
            p_all[ids] = p
            dropout_day[ids] = np.where(dropout >= 0, acq[ids] + dropout, -1.0)
            person = np.concatenate((ids, ids[owner]))
            day = np.concatenate((acq[ids], acq[ids[owner]] + offs))
            srt = np.lexsort((person, day))
            person, day = person[srt], day[srt]
            n = person.size
            amount = np.round(spend[person] * rng_orders.gamma(4.0, 0.25, n), 2)
            amount = np.maximum(amount, 1.0)
            other = rng_orders.random(n) < 0.15
            pick = rec_start[person] + (rng_orders.random(n) * rec_count[person]).astype(np.int64)
            rec = np.where(other, order_rec[pick], rec_primary[person])
            status_roll = rng_orders.random(n)
            refund = (status_roll >= params.cancel_rate) & \
                (rng_orders.random(n) < params.refund_rate)
            refund_days = np.minimum(day + rng_orders.integers(1, 31, n), days - 1)
            refund_share = np.where(rng_orders.random(n) < 0.6, 1.0,
                                    np.round(rng_orders.uniform(0.1, 0.9, n), 2))
            product = rng_orders.integers(0, len(CATALOG), n)
            rows = []
            for i, (rc, d, amt, sr, rf, pr) in enumerate(zip(
                    rec.tolist(), day.tolist(), amount.tolist(), status_roll.tolist(),
                    refund.tolist(), product.tolist())):
                oid = f"O{n_orders + i + 1:09d}"
                cust = f"{prefix}{rc + 1:0{ext_width}d}"
                prod, cat = CATALOG[pr]
                rows.append((oid, cust, date_text[d + 400], f"{amt:.2f}", "CNY",
                             "cancelled" if sr < params.cancel_rate else "paid", prod, cat))
                if rf:
                    back = round(amt * float(refund_share[i]), 2)
                    rows.append((oid + "-R", cust, date_text[int(refund_days[i]) + 400],
                                 f"{-back:.2f}", "CNY", "refunded", prod, cat))
                if len(rows) >= 50_000:
                    wo.writerows(rows)
                    rows.clear()
            n_orders += n
            n_refund_rows += int(refund.sum())
            wo.writerows(rows)
    total_order_rows = n_orders + n_refund_rows
    t_orders = time.perf_counter() - t0 - t_contacts

    # Interactions.
    n_inter = 0
    minute_text = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
    with open(out / "interactions.csv", "w", newline="", encoding="utf-8") as fi:
        wi = csv.writer(fi, lineterminator="\n")
        wi.writerow(INTERACTION_HEADER)
        for lo in range(0, n_people, BLOCK):
            hi = min(lo + BLOCK, n_people)
            ids = np.arange(lo, hi)
            counts = rng_int.poisson(params.interactions_per_contact, ids.size)
            person = np.repeat(ids, counts)
            n = person.size
            first = acq[person] - created_lag[person]
            day = first + (rng_int.random(n) * (days - first)).astype(np.int64)
            day = np.clip(day, -400, days - 1)
            chan = rng_int.choice(len(CHANNELS), n, p=CHANNEL_P)
            mu = 4.3 - 6.0 * (p_all[person] - 0.06)
            drop = dropout_day[person]
            mu = np.where((drop >= 0) & (day >= drop - 120), mu - 1.6, mu)
            mu = np.where(buyer[person], mu, 3.6)
            sat = np.clip(np.rint(rng_int.normal(mu, 0.8)), 1, 5).astype(np.int64)
            has_sat = rng_int.random(n) < 0.6
            minute = rng_int.integers(8 * 60, 21 * 60, n)
            pick = rec_start[person] + (rng_int.random(n) * rec_count[person]).astype(np.int64)
            rec = np.where(rng_int.random(n) < 0.15, order_rec[pick], rec_primary[person])
            inbound = rng_int.random(n) < 0.4
            oroll = rng_int.random(n)
            nroll = rng_int.integers(0, len(NOTES), n)
            order = np.lexsort((person, minute, day))
            rows = []
            for j in order.tolist():
                ch = CHANNELS[chan[j]]
                outs = OUTCOMES[ch]
                rows.append((f"{prefix}{int(rec[j]) + 1:0{ext_width}d}",
                             f"{date_text[int(day[j]) + 400]} {minute_text[int(minute[j])]}", ch,
                             "inbound" if inbound[j] else "outbound",
                             outs[int(oroll[j] * len(outs))],
                             str(int(sat[j])) if has_sat[j] else "", NOTES[int(nroll[j])]))
            wi.writerows(rows)
            n_inter += n
    t_int = time.perf_counter() - t0 - t_contacts - t_orders

    info = {
        "params": asdict(params), "alpha": alpha, "start": start.isoformat(),
        "people": int(n_people), "contacts": int(params.contacts),
        "duplicate_records": int(extra.sum()), "buyers": n_buyers,
        "order_rows": int(total_order_rows), "orders": int(n_orders), "refund_rows": int(n_refund_rows),
        "interactions": int(n_inter), "dropped_out": int((dropout_day >= 0).sum()),
        "seconds": {"contacts": round(t_contacts, 2), "orders": round(t_orders, 2),
                    "interactions": round(t_int, 2)},
    }
    with open(out / "params.json", "w", encoding="utf-8") as fp:
        json.dump({k: v for k, v in info.items() if k != "seconds"}, fp, indent=2,
                  ensure_ascii=False)
        fp.write("\n")
    if log:
        log(f"wrote {params.contacts} contacts ({n_people} people), {total_order_rows} order rows,"
            f" {n_inter} interactions to {out} in {time.perf_counter() - t0:.1f} s")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--contacts", type=int, default=Params.contacts)
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--seed", type=int, default=Params.seed)
    ap.add_argument("--orders-per-contact", type=float, default=Params.orders_per_contact)
    ap.add_argument("--interactions-per-contact", type=float,
                    default=Params.interactions_per_contact)
    ap.add_argument("--dup-share", type=float, default=Params.dup_share)
    args = ap.parse_args(argv)
    params = Params(contacts=args.contacts, seed=args.seed,
                    orders_per_contact=args.orders_per_contact,
                    interactions_per_contact=args.interactions_per_contact,
                    dup_share=args.dup_share)
    generate(args.out, params, log=lambda m: print(m, file=sys.stderr))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
