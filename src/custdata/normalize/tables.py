"""Lookup tables for the normalizers: country names, name particles, email domain typos.

Plain data, built once at import. Country names in English, Chinese and Japanese were
copied from the locale tables that ship with `phonenumbers` (importing those at run time
would load its whole geocoding database), plus the aliases below.
"""

from __future__ import annotations

import re
import unicodedata


# ISO 3166-1 alpha-2 code -> (English, Chinese, Japanese) name, from phonenumbers 9.0.
_NAMES: dict[str, tuple[str | None, str | None, str | None]] = {
    'AD': ('Andorra', '安道尔', 'アンドラ'),
    'AE': ('United Arab Emirates', '阿拉伯联合酋长国', 'アラブ首長国連邦'),
    'AF': ('Afghanistan', '阿富汗', 'アフガニスタン'),
    'AG': ('Antigua and Barbuda', '安提瓜和巴布达', 'アンチグアバーブーダ'),
    'AI': ('Anguilla', '安圭拉', 'アンギラ'),
    'AL': ('Albania', '阿尔巴尼亚', 'アルバニア'),
    'AM': ('Armenia', '亚美尼亚', 'アルメニア'),
    'AO': ('Angola', '安哥拉', 'アンゴラ'),
    'AQ': ('Antarctica', '南极洲', '南極'),
    'AR': ('Argentina', '阿根廷', 'アルゼンチン'),
    'AS': ('American Samoa', '东萨摩亚', 'アメリカンサモア'),
    'AT': ('Austria', '奥地利', 'オーストリア'),
    'AU': ('Australia', '澳大利亚', 'オーストラリア'),
    'AW': ('Aruba', '阿鲁巴', 'アルバ島'),
    'AX': ('Åland Islands', '奥兰群岛', 'オーランド諸島'),
    'AZ': ('Azerbaijan', '阿塞拜疆', 'アゼルバイジャン'),
    'BA': ('Bosnia and Herzegovina', '波斯尼亚和黑山共和国', 'ボスニア・ヘルツェゴビナ'),
    'BB': ('Barbados', '巴巴多斯', 'バルバドス'),
    'BD': ('Bangladesh', '孟加拉', 'バングラデシュ'),
    'BE': ('Belgium', '比利时', 'ベルギー'),
    'BF': ('Burkina Faso', '布基纳法索', 'ブルキナファソ'),
    'BG': ('Bulgaria', '保加利亚', 'ブルガリア'),
    'BH': ('Bahrain', '巴林', 'バーレーン'),
    'BI': ('Burundi', '布隆迪', 'ブルンジ'),
    'BJ': ('Benin', '贝宁', 'ベニン'),
    'BL': ('Saint Barthélemy', '圣巴泰勒米岛', 'サンバルテルミー'),
    'BM': ('Bermuda', '百慕大', 'バーミューダ諸島'),
    'BN': ('Brunei', '文莱', 'ブルネイ'),
    'BO': ('Bolivia', '玻利维亚', 'ボリビア'),
    'BQ': ('Bonaire, Sint Eustatius and Saba', '博奈尔岛, 圣尤斯特歇斯岛和萨巴岛', 'ボネール、シントユースタティウスおよびサバ'),
    'BR': ('Brazil', '巴西', 'ブラジル'),
    'BS': ('Bahamas', '巴哈马', 'バハマ'),
    'BT': ('Bhutan', '不丹', 'ブータン'),
    'BV': ('Bouvet Island', '布韦岛', 'ブーベ島'),
    'BW': ('Botswana', '博茨瓦纳', 'ボツワナ'),
    'BY': ('Belarus', '白俄罗斯', 'ベラルーシ'),
    'BZ': ('Belize', '伯里兹', 'ベリーズ'),
    'CA': ('Canada', '加拿大', 'カナダ'),
    'CC': ('Cocos Islands', '科库斯群岛', 'ココス諸島'),
    'CD': ('The Democratic Republic Of Congo', '刚果民主共和国', 'コンゴ民主共和国'),
    'CF': ('Central African Republic', '中非共和国', '中央アフリカ共和国'),
    'CG': ('Congo', '刚果', 'コンゴ'),
    'CH': ('Switzerland', '瑞士', 'スイス'),
    'CI': ("Côte d'Ivoire", '象牙海岸', 'コートジボアール'),
    'CK': ('Cook Islands', '库克群岛', 'クック諸島'),
    'CL': ('Chile', '智利', 'チリ'),
    'CM': ('Cameroon', '喀麦隆', 'カメルーン'),
    'CN': ('China', '中国', '中華人民共和国'),
    'CO': ('Colombia', '哥伦比亚', 'コロンビア'),
    'CR': ('Costa Rica', '哥斯达黎加', 'コスタリカ'),
    'CU': ('Cuba', '古巴', 'キューバ'),
    'CV': ('Cape Verde', '佛得角', 'カーボベルデ'),
    'CW': ('Curaçao', '库拉索岛', 'キュラソー'),
    'CX': ('Christmas Island', '圣诞岛', 'クリスマス島'),
    'CY': ('Cyprus', '塞浦路斯', 'キプロス'),
    'CZ': ('Czech Republic', '捷克共和国', 'チェコ'),
    'DE': ('Germany', '德国', 'ドイツ'),
    'DJ': ('Djibouti', '吉布提', 'ジブチ'),
    'DK': ('Denmark', '丹麦', 'デンマーク'),
    'DM': ('Dominica', '多米尼加联邦', 'ドミニカ国'),
    'DO': ('Dominican Republic', '多米尼加共和国', 'ドミニカ共和国'),
    'DZ': ('Algeria', '阿尔及利亚', 'アルジェリア'),
    'EC': ('Ecuador', '厄瓜多尔', 'エクアドル'),
    'EE': ('Estonia', '爱沙尼亚', 'エストニア'),
    'EG': ('Egypt', '埃及', 'エジプト'),
    'EH': ('Western Sahara', '西撒哈拉', '西サハラ'),
    'ER': ('Eritrea', '厄里特尼亚', 'エリトリア'),
    'ES': ('Spain', '西班牙', 'スペイン'),
    'ET': ('Ethiopia', '埃塞俄比亚', 'エチオピア'),
    'FI': ('Finland', '芬兰', 'フィンランド'),
    'FJ': ('Fiji', '斐济', 'フィジー'),
    'FK': ('Falkland Islands', '富克兰群岛', 'フォークランド諸島'),
    'FM': ('Micronesia', '密克罗尼西亚', 'ミクロネシア'),
    'FO': ('Faroe Islands', '法罗群岛', 'フェロー諸島'),
    'FR': ('France', '法国', 'フランス'),
    'GA': ('Gabon', '加蓬', 'ガボン'),
    'GB': ('United Kingdom', '英国', 'イギリス'),
    'GD': ('Grenada', '格林纳达', 'グレナダ'),
    'GE': ('Georgia', '格鲁吉亚', 'グルジア'),
    'GF': ('French Guiana', '法属圭亚那', '仏領ギアナ'),
    'GG': ('Guernsey', '格恩西岛', 'ガーンジー'),
    'GH': ('Ghana', '加纳', 'ガーナ'),
    'GI': ('Gibraltar', '直布罗陀', 'ジブラルタル'),
    'GL': ('Greenland', '格陵兰', 'グリーンランド'),
    'GM': ('Gambia', '冈比亚', 'ガンビア'),
    'GN': ('Guinea', '几内亚', 'ギニア'),
    'GP': ('Guadeloupe', '瓜德罗普岛', 'グアドループ'),
    'GQ': ('Equatorial Guinea', '赤道几内亚', '赤道ギニア'),
    'GR': ('Greece', '希腊', 'ギリシア'),
    'GS': ('South Georgia And The South Sandwich Islands', '南乔治亚岛和南桑德韦奇岛', 'サウスジョージア島・サウスサンドウィッチ島'),
    'GT': ('Guatemala', '危地马拉', 'グアテマラ'),
    'GU': ('Guam', '关岛', 'グアム'),
    'GW': ('Guinea-Bissau', '几内亚比绍共和国', 'ギニアビサウ'),
    'GY': ('Guyana', '圭亚那', 'ガイアナ'),
    'HK': ('Hong Kong', '香港', '香港'),
    'HM': ('Heard Island And McDonald Islands', '赫德和麦克唐纳群岛', 'ハード・マクドナルド諸島'),
    'HN': ('Honduras', '洪都拉斯', 'ホンジュラス'),
    'HR': ('Croatia', '克罗地亚', 'クロアチア'),
    'HT': ('Haiti', '海地', 'ハイチ'),
    'HU': ('Hungary', '匈牙利', 'ハンガリー'),
    'ID': ('Indonesia', '印度尼西亚', 'インドネシア'),
    'IE': ('Ireland', '爱尔兰', 'アイルランド'),
    'IL': ('Israel', '以色列', 'イスラエル'),
    'IM': ('Isle Of Man', '曼岛', 'マン島'),
    'IN': ('India', '印度', 'インド'),
    'IO': ('British Indian Ocean Territory', '英属印度洋领地', '英領インド洋地域'),
    'IQ': ('Iraq', '伊拉克', 'イラク'),
    'IR': ('Iran', '伊朗', 'イラン'),
    'IS': ('Iceland', '冰岛', 'アイスランド'),
    'IT': ('Italy', '意大利', 'イタリア'),
    'JE': ('Jersey', '泽西岛', 'ジャージー'),
    'JM': ('Jamaica', '牙买加', 'ジャマイカ'),
    'JO': ('Jordan', '约旦', 'ヨルダン'),
    'JP': ('Japan', '日本', '日本'),
    'KE': ('Kenya', '肯尼亚', 'ケニア'),
    'KG': ('Kyrgyzstan', '吉尔吉克斯坦', 'キルギスタン'),
    'KH': ('Cambodia', '柬埔寨', 'カンボジア'),
    'KI': ('Kiribati', '基里巴斯', 'キリバス'),
    'KM': ('Comoros', '科摩罗', 'コモロ'),
    'KN': ('Saint Kitts And Nevis', '圣基茨和尼维斯', 'セントクリストファー・ネイビス'),
    'KP': ('North Korea', '朝鲜', '朝鮮民主主義人民共和国'),
    'KR': ('South Korea', '韩国', '大韓民国'),
    'KW': ('Kuwait', '科威特', 'クウェート'),
    'KY': ('Cayman Islands', '开曼群岛', 'ケイマン諸島'),
    'KZ': ('Kazakhstan', '哈萨克斯坦', 'カザフスタン'),
    'LA': ('Laos', '老挝', 'ラオス'),
    'LB': ('Lebanon', '黎巴嫩', 'レバノン'),
    'LC': ('Saint Lucia', '圣卢西亚', 'セントルシア'),
    'LI': ('Liechtenstein', '列支敦士登', 'リヒテンシュタイン'),
    'LK': ('Sri Lanka', '斯里兰卡', 'スリランカ'),
    'LR': ('Liberia', '利比里亚', 'リベリア'),
    'LS': ('Lesotho', '莱索托', 'レソト'),
    'LT': ('Lithuania', '立陶宛', 'リトアニア'),
    'LU': ('Luxembourg', '卢森堡', 'ルクセンブルク'),
    'LV': ('Latvia', '拉脱维亚', 'ラトビア'),
    'LY': ('Libya', '利比亚', 'リビア'),
    'MA': ('Morocco', '摩洛哥', 'モロッコ'),
    'MC': ('Monaco', '摩纳哥', 'モナコ'),
    'MD': ('Moldova', '摩尔多瓦', 'モルドバ'),
    'ME': ('Montenegro', '黑山', 'モンテネグロ'),
    'MF': ('Saint Martin', '圣马丁', 'サンマルタン'),
    'MG': ('Madagascar', '马达加斯加', 'マダガスカル'),
    'MH': ('Marshall Islands', '马绍尔群岛', 'マーシャル諸島'),
    'MK': ('Macedonia', '马其顿王国', 'マケドニア'),
    'ML': ('Mali', '马里', 'マリ'),
    'MM': ('Myanmar', '缅甸', 'ミャンマー'),
    'MN': ('Mongolia', '蒙古', 'モンゴル'),
    'MO': ('Macao', '澳门特区', 'マカオ'),
    'MP': ('Northern Mariana Islands', '美属北马里亚纳群岛', '北マリアナ諸島'),
    'MQ': ('Martinique', '马提尼克岛', 'マルティニーク島'),
    'MR': ('Mauritania', '毛里塔尼亚', 'モーリタニア'),
    'MS': ('Montserrat', '蒙特塞拉群岛', 'モントセラト島'),
    'MT': ('Malta', '马耳他', 'マルタ'),
    'MU': ('Mauritius', '毛里求斯', 'モーリシャス'),
    'MV': ('Maldives', '马尔代夫', 'モルディブ'),
    'MW': ('Malawi', '马拉维', 'マラウイ'),
    'MX': ('Mexico', '墨西哥', 'メキシコ'),
    'MY': ('Malaysia', '马来西亚', 'マレーシア'),
    'MZ': ('Mozambique', '莫桑比克', 'モザンビーク'),
    'NA': ('Namibia', '纳米比亚', 'ナミビア'),
    'NC': ('New Caledonia', '新克里多尼亚群岛', 'ニューカレドニア'),
    'NE': ('Niger', '尼日尔', 'ニジェール'),
    'NF': ('Norfolk Island', '诺福克岛', 'ノーフォーク島'),
    'NG': ('Nigeria', '尼日利亚', 'ナイジェリア'),
    'NI': ('Nicaragua', '尼加拉瓜', 'ニカラグア'),
    'NL': ('Netherlands', '荷兰', 'オランダ'),
    'NO': ('Norway', '挪威', 'ノルウェー'),
    'NP': ('Nepal', '尼泊尔', 'ネパール'),
    'NR': ('Nauru', '瑙鲁', 'ナウル'),
    'NU': ('Niue', '纽埃岛', 'ニウエ島'),
    'NZ': ('New Zealand', '新西兰', 'ニュージーランド'),
    'OM': ('Oman', '阿曼', 'オマーン'),
    'PA': ('Panama', '巴拿马', 'パナマ'),
    'PE': ('Peru', '秘鲁', 'ペルー'),
    'PF': ('French Polynesia', '法属玻利尼西亚', '仏領ポリネシア'),
    'PG': ('Papua New Guinea', '巴布亚新几内亚', 'パプアニューギニア'),
    'PH': ('Philippines', '菲律宾', 'フィリピン'),
    'PK': ('Pakistan', '巴基斯坦', 'パキスタン'),
    'PL': ('Poland', '波兰', 'ポーランド'),
    'PM': ('Saint Pierre And Miquelon', '圣皮埃尔和密克隆群岛', 'サンピエール島・ミクロン島'),
    'PN': ('Pitcairn', '皮特克恩岛', 'ピトケアン島'),
    'PR': ('Puerto Rico', '波多黎哥', 'プエルトリコ'),
    'PS': ('Palestine', '巴勒斯坦', 'パレスチナ'),
    'PT': ('Portugal', '葡萄牙', 'ポルトガル'),
    'PW': ('Palau', '帕劳', 'パラオ'),
    'PY': ('Paraguay', '巴拉圭', 'パラグアイ'),
    'QA': ('Qatar', '卡塔尔', 'カタール'),
    'RE': ('Reunion', '留尼汪岛', 'レユニオン'),
    'RO': ('Romania', '罗马尼亚', 'ルーマニア'),
    'RS': ('Serbia', '塞尔维亚', 'セルビア'),
    'RU': ('Russia', '俄罗斯', 'ロシア'),
    'RW': ('Rwanda', '卢旺达', 'ルワンダ'),
    'SA': ('Saudi Arabia', '沙特阿拉伯', 'サウジアラビア'),
    'SB': ('Solomon Islands', '所罗门群岛', 'ソロモン諸島'),
    'SC': ('Seychelles', '塞舌尔群岛', 'セイシェル'),
    'SD': ('Sudan', '苏丹', 'スーダン'),
    'SE': ('Sweden', '瑞典', 'スウェーデン'),
    'SG': ('Singapore', '新加坡', 'シンガポール'),
    'SH': ('Saint Helena', '圣赫勒拿岛', 'セントヘレナ島'),
    'SI': ('Slovenia', '斯洛文尼亚', 'スロベニア'),
    'SJ': ('Svalbard And Jan Mayen', '斯瓦尔巴特和扬马延岛', 'スバールバル諸島・ヤンマイエン島'),
    'SK': ('Slovakia', '斯洛伐克', 'スロバキア'),
    'SL': ('Sierra Leone', '塞拉里昂', 'シエラレオネ'),
    'SM': ('San Marino', '圣马力诺', 'サンマリノ'),
    'SN': ('Senegal', '塞内加尔', 'セネガル'),
    'SO': ('Somalia', '索马里', 'ソマリア'),
    'SR': ('Suriname', '苏里南', 'スリナム'),
    'SS': ('South Sudan', '南苏丹', '南スーダン'),
    'ST': ('Sao Tome And Principe', '圣多美和普林西比', 'サントメ・プリンシペ'),
    'SV': ('El Salvador', '萨尔瓦多', 'エルサルバドル'),
    'SX': ('Sint Maarten (Dutch part)', '荷属圣马丁岛', 'シントマールテン(オランダ領)'),
    'SY': ('Syria', '叙利亚', 'シリア'),
    'SZ': ('Swaziland', '斯威士兰', 'スワジランド'),
    'TC': ('Turks And Caicos Islands', '特克斯群岛和凯科斯群岛', 'タークス諸島・カイコス諸島'),
    'TD': ('Chad', '乍得', 'チャド'),
    'TF': ('French Southern Territories', '法属南特立尼达', 'フランス領極南諸島'),
    'TG': ('Togo', '多哥', 'トーゴ'),
    'TH': ('Thailand', '泰国', 'タイ'),
    'TJ': ('Tajikistan', '塔吉克斯坦', 'タジキスタン'),
    'TK': ('Tokelau', '联合群岛', 'トケラウ諸島'),
    'TL': ('Timor-Leste', '东帝汶', '東ティモール'),
    'TM': ('Turkmenistan', '土库曼斯坦', 'トルクメニスタン'),
    'TN': ('Tunisia', '突尼斯', 'チュニジア'),
    'TO': ('Tonga', '汤加', 'トンガ'),
    'TR': ('Turkey', '土耳其', 'トルコ'),
    'TT': ('Trinidad and Tobago', '特立尼达和多巴哥', 'トリニダード・トバゴ'),
    'TV': ('Tuvalu', '图瓦卢', 'ツバル'),
    'TW': ('Taiwan', '台湾地区', '台湾'),
    'TZ': ('Tanzania', '坦桑尼亚', 'タンザニア'),
    'UA': ('Ukraine', '乌克兰', 'ウクライナ'),
    'UG': ('Uganda', '乌干达', 'ウガンダ'),
    'UM': ('United States Minor Outlying Islands', '美属小奥特兰群岛', '米領太平洋諸島'),
    'US': ('United States', '美国', 'アメリカ合衆国'),
    'UY': ('Uruguay', '乌拉圭', 'ウルグアイ'),
    'UZ': ('Uzbekistan', '乌兹别克斯坦', 'ウズベキスタン'),
    'VA': ('Vatican', '梵蒂冈', 'バチカン'),
    'VC': ('Saint Vincent And The Grenadines', '圣文森特和格林纳丁斯', 'セントビンセントおよびグレナディーン諸島'),
    'VE': ('Venezuela', '委内瑞拉', 'ベネズエラ'),
    'VG': ('British Virgin Islands', '英属维京群岛', '英領バージン諸島'),
    'VI': ('U.S. Virgin Islands', '美属维京群岛', '米領バージン諸島'),
    'VN': ('Vietnam', '越南', 'ベトナム'),
    'VU': ('Vanuatu', '瓦努阿图', 'バヌアツ'),
    'WF': ('Wallis And Futuna', '瓦利斯群岛和富图纳群岛', 'ワリス・フテュナ諸島'),
    'WS': ('Samoa', '*zh', '西サモア'),
    'YE': ('Yemen', '也门', 'イエメン'),
    'YT': ('Mayotte', '马约特岛', 'マヨット島'),
    'ZA': ('South Africa', '南非', '南アフリカ'),
    'ZM': ('Zambia', '赞比亚', 'ザンビア'),
    'ZW': ('Zimbabwe', '津巴布韦', 'ジンバブエ'),
}

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


def _build_countries() -> dict[str, str]:
    table: dict[str, str] = {}
    for code, names in _NAMES.items():
        table[country_key(code)] = code
        for i, name in enumerate(names):
            if name:
                table.setdefault(country_key(name), code)
                if i == 1 and name.endswith("地区"):
                    table.setdefault(country_key(name[:-2]), code)
    for alias, code in _ALIASES.items():
        table[country_key(alias)] = code
    for alpha3, code in _ALPHA3.items():
        table.setdefault(country_key(alpha3), code)
    return table


COUNTRIES: dict[str, str] = _build_countries()
ISO_CODES: frozenset[str] = frozenset(_NAMES)

# Latin name particles kept lower-case when re-casing (never first unless another follows).
# Pinyin syllables (de, da, di, du, le, la) are deliberately absent: "LIU DE HUA" is a
# Chinese name, not a Dutch one.
NAME_PARTICLES = frozenset({
    "van", "von", "der", "den", "ter", "ten", "het", "del", "della", "delle", "degli",
    "dei", "dos", "das", "zu", "zur", "vom", "bin", "binti", "ibn", "y",
})
NAME_UPPER_WORDS = frozenset({"ii", "iii", "iv", "vi", "vii", "viii", "phd", "md"})
# Organisation acronyms that have vowels (so the no-vowel rule cannot tell them) and are
# kept in capitals when a name is re-cased. Acronyms without vowels (BMW, KPMG, HSBC)
# and with digits or & (3M, AT&T) are kept by rule; none of these is a pinyin syllable.
ORG_ACRONYMS = frozenset({
    "ymca", "ywca", "ibm", "nasa", "unicef", "unesco", "nato", "opec", "aarp", "ikea", "ups",
    "usa", "uk", "eu", "aig", "aol", "ubs", "uefa", "fifa", "ieee", "ucla", "nyu", "usc",
    "hp", "lg", "bp", "gm", "ey", "abc", "abb", "aia", "ing", "oecd", "ocbc", "uob", "sap",
    "icbc", "boc", "ccb", "ntt", "tsmc", "sabic", "fiat",
})
# Small English words left in lower case inside a re-cased name ("YMCA of Greater New York").
NAME_LOWER_WORDS = frozenset({"of", "and", "for", "the"})
# Short words without vowels that are names, titles or suffixes, not acronyms.
NOT_ACRONYMS = frozenset({"mrs", "ltd", "jnr", "snr", "pty", "dept", "st", "mr", "dr", "jr",
                          "sr", "ng", "hm"})

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
