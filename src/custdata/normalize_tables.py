"""Lookup tables for the normalizers: country names, name particles, email domain typos.

Plain data, built once at import. Country names in English and Chinese come from the
locale tables that ship with `phonenumbers` (250 regions), plus the aliases below.
"""

from __future__ import annotations

import re
import unicodedata

from phonenumbers.geodata.locale import LOCALE_DATA

# ISO 3166-1 alpha-2 codes phonenumbers knows but that are not ISO codes.
_NOT_ISO = frozenset({"AN", "AC", "TA", "XK"})

# Alpha-3 codes of the countries a sales team meets most; alpha-2 codes are always read.
_ALPHA3 = {
    "CHN": "CN", "HKG": "HK", "MAC": "MO", "TWN": "TW", "USA": "US", "GBR": "GB", "CAN": "CA",
    "AUS": "AU", "NZL": "NZ", "JPN": "JP", "KOR": "KR", "PRK": "KP", "SGP": "SG", "MYS": "MY",
    "THA": "TH", "VNM": "VN", "IDN": "ID", "PHL": "PH", "IND": "IN", "PAK": "PK", "BGD": "BD",
    "DEU": "DE", "FRA": "FR", "ITA": "IT", "ESP": "ES", "PRT": "PT", "NLD": "NL", "BEL": "BE",
    "CHE": "CH", "AUT": "AT", "SWE": "SE", "NOR": "NO", "DNK": "DK", "FIN": "FI", "IRL": "IE",
    "POL": "PL", "CZE": "CZ", "HUN": "HU", "GRC": "GR", "TUR": "TR", "RUS": "RU", "UKR": "UA",
    "ISR": "IL", "ARE": "AE", "SAU": "SA", "EGY": "EG", "ZAF": "ZA", "NGA": "NG", "KEN": "KE",
    "BRA": "BR", "ARG": "AR", "MEX": "MX", "CHL": "CL", "COL": "CO", "PER": "PE",
}

# Names people write that are not the locale tables' names (keys are lookup keys, see _key).
_ALIASES = {
    # English
    "america": "US", "united states of america": "US", "us": "US", "usa": "US", "u s": "US",
    "u s a": "US", "the united states": "US", "uk": "GB", "u k": "GB", "great britain": "GB",
    "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "prc": "CN", "p r c": "CN", "peoples republic of china": "CN",
    "people s republic of china": "CN", "mainland china": "CN", "china mainland": "CN",
    "china (mainland)": "CN", "hongkong": "HK", "hong kong sar": "HK", "hong kong china": "HK",
    "macao": "MO", "macau": "MO", "macau sar": "MO", "macao sar": "MO", "taiwan china": "TW",
    "republic of china": "TW", "korea": "KR", "republic of korea": "KR", "korea republic of": "KR",
    "korea south": "KR", "north korea": "KP", "dprk": "KP", "russian federation": "RU",
    "viet nam": "VN", "uae": "AE", "emirates": "AE", "holland": "NL", "the netherlands": "NL",
    "czech republic": "CZ", "turkey": "TR", "turkiye": "TR", "ivory coast": "CI",
    "cote d ivoire": "CI", "laos": "LA", "burma": "MM", "swaziland": "SZ",
    "macedonia": "MK", "cape verde": "CV", "east timor": "TL", "vatican": "VA",
    "deutschland": "DE", "espana": "ES", "nippon": "JP",
    # Chinese (simplified and traditional)
    "中华人民共和国": "CN", "中國": "CN", "中国大陆": "CN", "中國大陸": "CN", "大陆": "CN",
    "大陸": "CN", "中国内地": "CN", "内地": "CN", "内地(大陆)": "CN", "美利坚合众国": "US",
    "美國": "US", "英國": "GB", "大不列颠": "GB", "英格兰": "GB", "香港特别行政区": "HK",
    "香港特別行政區": "HK", "中国香港": "HK", "中國香港": "HK", "澳门": "MO", "澳門": "MO",
    "澳门特别行政区": "MO", "澳門特別行政區": "MO", "中国澳门": "MO", "台湾": "TW",
    "台灣": "TW", "中国台湾": "TW", "中國台灣": "TW", "韓國": "KR", "南韩": "KR", "南韓": "KR",
    "大韩民国": "KR", "朝鲜": "KP", "北韩": "KP", "俄国": "RU", "俄羅斯": "RU",
    "俄罗斯联邦": "RU", "日本国": "JP", "德國": "DE", "法國": "FR", "加拿大": "CA",
    "澳洲": "AU", "新西兰": "NZ", "紐西蘭": "NZ", "新加坡共和国": "SG", "馬來西亞": "MY",
    "泰國": "TH", "越南社会主义共和国": "VN", "義大利": "IT", "意大利": "IT", "西班牙": "ES",
    "荷蘭": "NL", "瑞士": "CH", "瑞典": "SE", "印度": "IN", "阿联酋": "AE",
}


def country_key(text: str) -> str:
    """Lookup key of a country name: NFKC, case-folded, punctuation to spaces, collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    folded = "".join(
        c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
    )
    folded = re.sub(r"[.,'’`\"_\-/]", " ", folded)
    return " ".join(folded.split())


def _resolve(names: dict[str, str], lang: str) -> str | None:
    name = names.get(lang)
    seen = 0
    while name and name.startswith("*") and seen < 5:
        name = names.get(name[1:])
        seen += 1
    return name


def _build_countries() -> dict[str, str]:
    table: dict[str, str] = {}
    for code, names in LOCALE_DATA.items():
        if code in _NOT_ISO or len(code) != 2:
            continue
        table[country_key(code)] = code
        for lang in ("aa", "zh", "ja"):
            name = _resolve(names, lang)
            if name:
                table.setdefault(country_key(name), code)
                if lang == "zh" and name.endswith("地区"):
                    table.setdefault(country_key(name[:-2]), code)
    for alias, code in _ALIASES.items():
        table[country_key(alias)] = code
    for alpha3, code in _ALPHA3.items():
        table.setdefault(country_key(alpha3), code)
    return table


COUNTRIES: dict[str, str] = _build_countries()
ISO_CODES: frozenset[str] = frozenset(
    c for c in LOCALE_DATA if len(c) == 2 and c not in _NOT_ISO
)

# Latin name particles kept lower-case when re-casing (never first unless another follows).
# Pinyin syllables (de, da, di, du, le, la) are deliberately absent: "LIU DE HUA" is a
# Chinese name, not a Dutch one.
NAME_PARTICLES = frozenset({
    "van", "von", "der", "den", "ter", "ten", "het", "del", "della", "delle", "degli",
    "dei", "dos", "das", "zu", "zur", "vom", "bin", "binti", "ibn", "y",
})
NAME_UPPER_WORDS = frozenset({"ii", "iii", "iv", "vi", "vii", "viii", "phd", "md"})

# Well-known mailbox domains: a domain one edit away from one of these is a typo suggestion.
POPULAR_DOMAINS = (
    "qq.com", "163.com", "126.com", "gmail.com", "hotmail.com", "outlook.com", "yahoo.com",
    "sina.com", "sohu.com", "foxmail.com", "icloud.com", "aliyun.com", "139.com", "live.com",
    "msn.com", "yeah.net", "sina.cn", "vip.qq.com", "vip.163.com", "googlemail.com",
)
# Real domains close to a popular one, never "corrected".
KNOWN_DOMAINS = frozenset(POPULAR_DOMAINS) | frozenset({
    "mail.com", "email.com", "gmx.com", "gmx.de", "gmx.net", "ymail.com", "me.com", "mac.com",
    "aol.com", "189.cn", "163.net", "126.net", "21cn.com", "tom.com", "live.cn", "live.co.uk",
    "hotmail.co.uk", "hotmail.fr", "yahoo.co.jp", "yahoo.co.uk", "yahoo.com.cn",
    "yahoo.com.hk", "yahoo.com.tw", "outlook.jp", "qq.cn", "wo.cn", "263.net", "netease.com",
})
# Explicit typos seen in real files (checked before the edit-distance rule).
DOMAIN_TYPOS = {
    "gmial.com": "gmail.com", "gmai.com": "gmail.com", "gmal.com": "gmail.com",
    "gamil.com": "gmail.com", "gnail.com": "gmail.com", "gmaill.com": "gmail.com",
    "gmail.cm": "gmail.com", "gmail.co": "gmail.com", "gmail.con": "gmail.com",
    "hotmial.com": "hotmail.com", "hotmal.com": "hotmail.com", "hotmai.com": "hotmail.com",
    "hotmail.con": "hotmail.com", "hotmail.co": "hotmail.com", "hotmil.com": "hotmail.com",
    "qq.con": "qq.com", "qq.co": "qq.com", "qq.cm": "qq.com", "qq.comm": "qq.com",
    "qq.om": "qq.com", "163.cm": "163.com", "163.co": "163.com", "163.con": "163.com",
    "163.om": "163.com", "126.co": "126.com", "126.cm": "126.com", "126.con": "126.com",
    "126.om": "126.com", "yaho.com": "yahoo.com", "yahooo.com": "yahoo.com",
    "yahoo.con": "yahoo.com", "outlok.com": "outlook.com", "outloo.com": "outlook.com",
    "outlook.con": "outlook.com", "sina.con": "sina.com", "sina.cm": "sina.com",
    "foxmail.con": "foxmail.com", "icloud.con": "icloud.com", "iclod.com": "icloud.com",
}
# Second-level names whose mistyped top-level domain is worth a suggestion.
TLD_TYPOS = frozenset({"con", "cm", "co", "comm", "cmo", "ocm", "vom", "xom", "cpm", "coom", "om"})
