"""GB18030 or a Western code page: chosen by what the text looks like, not by what decodes."""

from __future__ import annotations

import io

import pytest

from custdata.io import gb_likeness, guess_encoding, read_table

WESTERN = {
    "german": ["Peter Bühler;München;Rückruf", "Jürgen Größer;Köln;Frühjahr",
               "Anna Müller;Düsseldorf;Schäfer", "Jörg Weiß;Nürnberg;Grüße"],
    "french": ["Élodie Lefèvre;Besançon;Très intéressée", "François Bénard;Orléans;Déjà client",
               "Raphaël Lévêque;Genève;à rappeler", "Cécile Dubœuf;Nîmes;Reçu"],
    "spanish": ["José Ibáñez;Málaga;Llamar mañana", "María Núñez;Córdoba;Señora Peña",
                "Iñaki Muñoz;Cádiz;Información", "Ángel Gómez;León;Teléfono"],
}
CHINESE = ["张伟;北京市;回访客户", "王芳;上海市;意向强烈", "李娜;广州市;已报价", "欧阳娜娜;深圳市;需要发票",
           "司马相如;杭州市;老客户介绍", "赵敏;成都市;春节促销"]


def _file(lines: list[str], encoding: str) -> bytes:
    return ("name;city;note\r\n" + "".join(f"{line}\r\n" for line in lines * 10)).encode(encoding)


@pytest.mark.parametrize("language", sorted(WESTERN))
@pytest.mark.parametrize("codepage", ["cp1252", "latin-1"])
def test_western_text_is_not_read_as_gb18030(language: str, codepage: str) -> None:
    lines = WESTERN[language] if codepage == "cp1252" else [
        line.replace("œ", "oe") for line in WESTERN[language]]
    data = _file(lines, codepage)
    encoding, guessed = guess_encoding(data)
    assert encoding in ("cp1252", "latin-1") and guessed
    table = read_table(io.BytesIO(data))
    assert [r.cells[0] for r in table.records][:4] == [line.split(";")[0] for line in lines]


def test_umlauts_followed_by_letters_decode_as_gb18030_but_read_as_german() -> None:
    # Every line is valid GB18030 ("Bühler" -> "B黨ler"): the case the old line count got wrong.
    data = _file(["Peter Bühler;Köln;Grüße", "Jörg Müller;Jülich;Rücksprache"], "cp1252")
    data.decode("gb18030")
    assert gb_likeness(data)[0] < 0.2
    assert guess_encoding(data) == ("cp1252", True)


@pytest.mark.parametrize("codec", ["gb18030", "gbk", "gb2312"])
def test_chinese_text_stays_gb18030_and_is_not_a_guess(codec: str) -> None:
    data = _file(CHINESE, codec)
    assert gb_likeness(data)[0] > 0.9
    assert guess_encoding(data) == ("gb18030", False)


def test_a_few_chinese_characters_are_gb18030_but_a_guess() -> None:
    data = "name;city\r\n张伟;Berlin\r\n".encode("gb18030")
    assert guess_encoding(data) == ("gb18030", True)
