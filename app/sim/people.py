"""Made-up people for simulations and demos: names, valid resident ID numbers, phones."""
from __future__ import annotations

import random
from datetime import date, timedelta

from app.domain.identity import resident_id_check_char

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力云峰国成良春晓晨子涵浩宇欣怡梓轩雨桐一诺"
REGIONS = ("110105", "310104", "440106", "330106", "510107", "420106", "320102", "370102")


def person(rng: random.Random, *, today: date) -> dict:
    """A check-in body for a plausible adult (18 to 85) with a valid resident ID number."""
    age_days = rng.randint(18 * 365, 85 * 365)
    born = today - timedelta(days=age_days)
    first17 = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return {
        "name": rng.choice(SURNAMES) + given,
        "document_type": "resident_id",
        "document_number": first17 + resident_id_check_char(first17),
        "phone": "1" + rng.choice("3578") + "".join(str(rng.randint(0, 9)) for _ in range(9)),
        "dose_number": rng.choices((1, 2, 3), weights=(3, 4, 3))[0],
        "health_code": rng.choices(("green", "yellow", "red"), weights=(97, 2, 1))[0],
        "priority": rng.random() < 0.03,
    }
