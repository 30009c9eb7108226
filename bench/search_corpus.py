"""Deterministic synthetic corpus for the search benchmark (issue 5).

Builds organ trees for the five jurisdictions, officers with realistic badge numbers, and
complaint rows whose narratives read like real complaints about auxiliary police (辅警):
a date and time, a place, what the officer did (from the jurisdiction's pack categories and
a bank of everyday conduct), mixed Latin and digits (badges, plates, amounts, durations),
evidence and a request. Every value comes from one ``random.Random(seed)``, so the same
seed and size give byte-identical rows; the first N rows of a larger corpus equal the
corpus of size N.

Rows go in with bulk ``INSERT``s into an app database created by the caller; nothing here
goes through the web or the services (the benchmark measures search, not intake).
Complainant identity rows are not created: identity is never indexed.

    .venv/bin/python bench/search_corpus.py --docs 5 --seed 20261125   # print samples
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
from dataclasses import dataclass, field

UTC = dt.UTC
DEFAULT_SEED = 20261125

# --------------------------------------------------------------------------- organ trees

# pack id -> (root code, root name, share of all complaints, badge style, level-2 organs)
# level-2 entries: (code suffix, name, badge prefix for Yunnan-style badges)
JURISDICTIONS = {
    "beijing-2022": ("BJ", "北京市公安局", 0.30, "BJ1", [
        ("CY", "朝阳分局", ""), ("HD", "海淀分局", ""), ("DC", "东城分局", ""),
        ("FT", "丰台分局", "")]),
    "province-2021": ("PV", "某省公安厅", 0.20, "PV2", [
        ("JC", "江城市公安局", ""), ("LC", "临川市公安局", ""), ("AP", "安平市公安局", ""),
        ("QS", "青山市公安局", "")]),
    "sichuan-2021": ("SC", "四川省公安厅", 0.20, "SC3", [
        ("CD", "成都市公安局", ""), ("MY", "绵阳市公安局", ""), ("DY", "德阳市公安局", ""),
        ("YB", "宜宾市公安局", "")]),
    "nantong-draft": ("NT", "南通市公安局", 0.10, "NT4", [
        ("CC", "崇川分局", ""), ("TZ", "通州分局", ""), ("HM", "海门分局", ""),
        ("RG", "如皋市公安局", "")]),
    "yunnan-2024": ("YN", "云南省公安厅", 0.20, "", [
        ("KM", "昆明市公安局", "KM"), ("QJ", "曲靖市公安局", "QJ"), ("DL", "大理州公安局", "DL"),
        ("YX", "玉溪市公安局", "YX")]),
}
STATIONS_PER_BRANCH = 10
OFFICERS_PER_STATION = (6, 14)

# Two-character place stems; stations, roads and landmarks are made from them.
STEMS = list(
    "三里屯 麦子店 望京 酒仙桥 双井 劲松 团结湖 呼家楼 八里庄 小关 中关村 学院路 万寿路 甘家口 "
    "紫竹院 北太平庄 清河 上地 西三旗 马连洼 东四 交道口 和平里 建国门 朝阳门 东华门 景山 安定门 "
    "北新桥 龙潭 卢沟桥 新村 右安门 大红门 南苑 太平桥 方庄 青塔 长辛店 宛平 城东 城西 城南 城北 "
    "河口 新桥 柳湾 石门 青石 白沙 红星 金沙 玉带 望江 锦江 春熙 盐市口 红牌楼 簇桥 火车南站 "
    "九眼桥 双桥子 沙河 牛王庙 游仙 涪城 旌阳 翠屏 叙州 南岸 江北 崇川 观音山 狼山 钟秀 任港 "
    "通州 金沙湾 海门 三厂 如城 白蒲 五华 盘龙 官渡 西山 呈贡 麒麟 沾益 下关 大理古城 喜洲 红塔 "
    "北城 春和 研和 篆塔 护国 翠湖 圆通 拓东 螺蛳湾 南屏 金碧 青年路 北京路 人民路 东风 解放 "
    "建设 胜利 光明 幸福 和平 文化 长安 滨江 临江 花园 桃源 杏林 梧桐 枫林 荷塘 松园 竹林".split()
)
ROAD_SUFFIX = ["路", "街", "大道", "巷", "南路", "北路", "东路", "西街"]
LANDMARKS = [
    "{s}地铁站{n}号口", "{s}菜市场门口", "{s}小学门口", "{s}加油站", "{s}汽车站出站口",
    "{s}人民医院急诊楼前", "{s}万达广场北门", "{s}高速收费站ETC车道", "{s}农贸市场", "{s}夜市",
    "{s}体育馆停车场", "{s}火车站北广场", "{s}公交站台", "{s}派出所接待大厅", "{s}商业街步行街口",
    "{s}小区东门", "{s}大学南门", "{s}立交桥下", "{s}4S店门前", "{s}物流园区卡口",
]

# --------------------------------------------------------------------------- people

SURNAMES = list("王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
                "程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏")
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏辉建文斌宇浩凯健俊帆")

VEHICLES = ["电动车", "小轿车", "出租车", "网约车", "货车", "摩托车", "三轮车", "共享单车",
            "公交车"]
ACTIVITIES = [
    "驾驶{v}途经", "骑{v}经过", "步行经过", "在路边停车等人于", "摆摊经营于", "排队办理业务于",
    "送孩子上学途经", "下班回家途经", "陪同老人就医路过", "送外卖途经", "开{v}接客途经",
]
# hour of day (local) -> how people say it
TIMES = ["凌晨"] * 6 + ["早上"] * 2 + ["上午"] * 3 + ["中午"] * 2 + ["下午"] * 4 + ["傍晚"] * 2 \
    + ["晚上"] * 3 + ["深夜"] * 2
_SLOT = re.compile(r"\{(\w+)\}")

# Everyday conduct, independent of the category (keeps the vocabulary realistic).
CONDUCT = [
    "对我态度蛮横，大声呵斥，说话极不文明",
    "以查验证件为由吃拿卡要，暗示我“表示一下”才能走",
    "张口就骂，用方言辱骂我和同行的家人",
    "用手推搡我的肩膀，导致我差点摔倒",
    "抢夺我的手机，强行删除我拍摄的视频",
    "未开启执法记录仪，我要求其开启时被拒绝",
    "故意关闭执法记录仪后对我进行威胁",
    "在交通事故处理中明显偏袒对方当事人",
    "把交通事故责任全部推给我，却不出具任何书面认定",
    "当场收取罚款{m}元，不开具任何票据",
    "索要好处费{m}元，称不给就扣车",
    "扣押我的{v}，不出具扣押凭证，也不告知去哪里领取",
    "脱离民警单独执法，现场没有任何民警在场",
    "穿着制服在执勤时长时间玩手机、抽烟",
    "酒后执勤，身上有明显酒味",
    "对我的求助置之不理，称“不归我们管”",
    "拍摄我的身份证并发到微信群里，泄露个人信息",
    "要求我去其亲戚开的店里买东西，否则不放行",
    "在{p}附近违规设卡，对外地车辆故意刁难",
    "对围观群众动手，用警棍指着人威胁",
    "冒充民警对我进行询问并做笔录",
    "深夜上门盘问，不出示任何证件",
    "把我的{v}钥匙拔走，拒不归还长达{k}个小时",
    "在接警后{k}个小时才到现场，到场后敷衍了事",
]
CONSEQUENCES = [
    "导致我上班迟到，被单位扣了当月全勤奖。",
    "我的手臂被抓伤，经{h}诊断为软组织挫伤。",
    "孩子当场被吓哭，至今晚上做噩梦。",
    "车上的货物因此耽误送达，损失约{m}元。",
    "我的{v}被扣了{d}天，期间无法正常出行。",
    "围观群众议论纷纷，对我的名誉造成很坏影响。",
    "我血压升高，在{h}留观了一个晚上。",
]
EVIDENCE = [
    "现场有多名群众围观，我用手机录了视频，时长约{mm}分{ss}秒。",
    "我记下了对方的车牌号{plate}。",
    "事后我拨打了110和12345热线反映，工单号为{ticket}。",
    "旁边商铺的监控应当拍到了全过程。",
    "同行的朋友{name}可以作证。",
    "我保留了微信转账记录{m}元的截图。",
    "对方胸前的执法记录仪指示灯当时没有亮。",
]
REQUESTS = [
    "请求依法调查处理，并调取现场执法记录仪视频和附近监控。",
    "希望督察部门核实情况，给我一个明确的答复。",
    "要求退还违规收取的费用并公开赔礼道歉。",
    "请求对该辅警依规处理，避免再有群众受到同样对待。",
    "恳请领导重视，尽快查明事实。",
]
FOLLOW_UP = [
    "事后我到{s}派出所反映，值班人员只让我回去等通知。",
    "第二天我再去现场找人，对方已经不在该岗位执勤。",
    "我当时情绪激动，但没有任何过激行为，现场视频可以证明。",
    "我不是第一次遇到这种情况，附近的商户也多次反映过。",
    "我的诉求很简单，就是希望{s}一带的执勤能够规范文明。",
    "这件事在我们小区业主群里传开了，大家都很气愤。",
    "我已经向12345热线和{s}街道办事处同时反映过此事。",
]
APPEARANCE = [
    "身高约一米七五、偏胖、戴眼镜", "三十岁左右、平头、左手有纹身",
    "个子不高、皮肤较黑、说{dialect}",
    "四十多岁、微胖、嗓门很大", "二十多岁、瘦高、戴白色口罩",
]
DIALECTS = ["四川话", "云南话", "北京话", "南通话", "普通话"]
HOSPITALS = ["市第一人民医院", "区中医院", "{s}社区卫生服务中心", "市第三人民医院", "妇幼保健院"]
PLATES = {"BJ": "京", "PV": "江", "SC": "川", "NT": "苏", "YN": "云"}
FACTS = [
    "经调取执法记录仪视频和现场监控，{name}确有{c}行为，情节较轻。",
    "经调查，投诉反映的问题部分属实，{name}在执勤中存在{c}问题。",
    "经核查，未发现{name}有投诉所称的{c}行为，现场视频显示其处置规范。",
    "经询问现场群众和当班民警，投诉反映情况属实，已责令{name}作出书面检查。",
]


@dataclass
class OrganSpec:
    key: str  # unique code
    name: str
    pack_id: str
    parent: str | None
    level: int
    stem: str = ""  # place stem used in narratives
    badge_prefix: str = ""
    plate: str = ""


@dataclass
class OfficerSpec:
    badge_no: str
    name: str
    organ: str  # organ code


@dataclass
class Tree:
    organs: list[OrganSpec] = field(default_factory=list)
    officers: list[OfficerSpec] = field(default_factory=list)
    # organ code -> weight for drawing the handling organ of a complaint
    weights: dict[str, float] = field(default_factory=dict)


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def build_tree(seed: int = DEFAULT_SEED) -> Tree:
    """Five jurisdictions x 4 branches x 10 stations (225 organs) and ~2,000 officers."""
    rng = random.Random(seed)
    stems = STEMS[:]
    rng.shuffle(stems)
    stem_iter = iter(stems * 3)
    tree = Tree()
    badge_counter: dict[str, int] = {}
    for pack_id, (root, root_name, share, badge_style, branches) in JURISDICTIONS.items():
        plate = PLATES[root]
        tree.organs.append(OrganSpec(root, root_name, pack_id, None, 1, plate=plate))
        for suffix, branch_name, yn_prefix in branches:
            branch = f"{root}-{suffix}"
            tree.organs.append(OrganSpec(branch, branch_name, pack_id, root, 2,
                                         stem=next(stem_iter), plate=plate))
            tree.weights[branch] = share / len(branches) * 0.1  # a few handled at branch level
            for i in range(STATIONS_PER_BRANCH):
                stem = next(stem_iter)
                kind = "分局" if branch_name.endswith("市公安局") and i < 3 else "派出所"
                code = f"{branch}-{i + 1:02d}"
                tree.organs.append(OrganSpec(code, f"{stem}{kind}", pack_id, branch, 3,
                                             stem=stem, plate=plate))
                tree.weights[code] = share / len(branches) * 0.9 / STATIONS_PER_BRANCH
                for _ in range(rng.randint(*OFFICERS_PER_STATION)):
                    if badge_style:  # BJ10001, PV20001, ...
                        n = badge_counter.setdefault(badge_style, 0) + 1
                        badge_counter[badge_style] = n
                        badge = f"{badge_style}{n:04d}"
                    else:  # Yunnan: KM-0231
                        n = badge_counter.setdefault(yn_prefix, 0) + 1
                        badge_counter[yn_prefix] = n
                        badge = f"{yn_prefix}-{n:04d}"
                    tree.officers.append(OfficerSpec(badge, _name(rng), code))
    return tree


# --------------------------------------------------------------------------- complaints

STATE_MIX = [  # (state, finding or None, weight)
    ("submitted", None, 12), ("accepted", None, 18), ("investigating", None, 14),
    ("not_accepted", None, 5), ("transferred", None, 0), ("merged", None, 0),
    ("withdrawn", None, 3), ("conclusion_pending", "partly", 4),
    ("concluded", "substantiated", 8), ("notified", "unsubstantiated", 10),
    ("closed", "substantiated", 14), ("closed", "unfounded", 6), ("closed", "partly", 6),
]
KINDS = [("complaint", 80), ("report", 12), ("accusation", 8)]


class CorpusGenerator:
    """Yields plain dicts for ``complaint`` rows. Needs the organ ids the caller created:
    ``organ_ids`` maps organ code -> id; ``officer_ids`` maps badge -> id."""

    def __init__(self, tree: Tree, packs: dict, organ_ids: dict[str, int],
                 officer_ids: dict[str, int], seed: int = DEFAULT_SEED, year: int = 2026):
        self.rng = random.Random(seed * 7 + 1)
        self.tree = tree
        self.organ_by_code = {o.key: o for o in tree.organs}
        self.codes = list(tree.weights)
        self.cum = []
        total = 0.0
        for code in self.codes:
            total += tree.weights[code]
            self.cum.append(total)
        self.officers_by_organ: dict[str, list[OfficerSpec]] = {}
        for officer in tree.officers:
            self.officers_by_organ.setdefault(officer.organ, []).append(officer)
        self.packs = packs
        self.organ_ids = organ_ids
        self.officer_ids = officer_ids
        self.year = year
        self.states = [(s, f) for s, f, _w in STATE_MIX]
        self.state_weights = [w for _s, _f, w in STATE_MIX]
        self.start = dt.datetime(year - 1, 1, 1, tzinfo=UTC)
        self.span_s = int((dt.datetime(year, 11, 1, tzinfo=UTC) - self.start).total_seconds())
        self.n = 0

    # ---- small pieces
    def _organ(self) -> OrganSpec:
        x = self.rng.random() * self.cum[-1]
        lo, hi = 0, len(self.cum) - 1
        while lo < hi:  # bisect
            mid = (lo + hi) // 2
            if self.cum[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        return self.organ_by_code[self.codes[lo]]

    def _place(self, organ: OrganSpec) -> str:
        r = self.rng
        stem = organ.stem if r.random() < 0.7 else r.choice(STEMS)
        if r.random() < 0.55:
            road = stem + r.choice(ROAD_SUFFIX)
            if r.random() < 0.5:
                return f"{road}与{r.choice(STEMS)}{r.choice(ROAD_SUFFIX)}交叉口"
            return f"{road}{r.randint(1, 399)}号附近"
        return r.choice(LANDMARKS).format(s=stem, n=r.randint(1, 8))

    def _plate(self, organ: OrganSpec) -> str:
        r = self.rng
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        tail = "".join(r.choice(letters + "0123456789") for _ in range(5))
        return f"{organ.plate}{r.choice('ABCDEF')}·{tail}"

    def _fill(self, template: str, organ: OrganSpec, place: str) -> str:
        """Fill only the slots the template uses (draws stay deterministic and cheap)."""
        r = self.rng
        makers = {
            "v": lambda: r.choice(VEHICLES),
            "m": lambda: str(r.choice((50, 100, 200, 300, 500, 800, 1000, 2000))),
            "k": lambda: str(r.randint(2, 6)),
            "d": lambda: str(r.randint(3, 20)),
            "p": lambda: place.split("与")[0],
            "h": lambda: r.choice(HOSPITALS).format(s=organ.stem or r.choice(STEMS)),
            "mm": lambda: str(r.randint(0, 9)),
            "ss": lambda: str(r.randint(10, 59)),
            "plate": lambda: self._plate(organ),
            "ticket": lambda: f"{self.year}{r.randint(10**7, 10**8 - 1)}",
            "name": lambda: _name(r),
            "dialect": lambda: r.choice(DIALECTS),
            "s": lambda: organ.stem or r.choice(STEMS),
        }
        return _SLOT.sub(lambda m: makers[m.group(1)](), template)

    # ---- one complaint
    def row(self) -> dict:
        r = self.rng
        self.n += 1
        organ = self._organ()
        pack = self.packs[organ.pack_id]
        category = r.choice(pack.categories)
        place = self._place(organ)
        incident_at = self.start + dt.timedelta(seconds=r.randrange(self.span_s))
        created_at = incident_at + dt.timedelta(hours=r.randint(2, 24 * 20))
        local = incident_at + dt.timedelta(hours=8)
        station_officers = self.officers_by_organ.get(organ.key) or self.officers_by_organ.get(
            f"{organ.key}-01", [])
        officer = r.choice(station_officers) if station_officers else None
        badge_known = officer is not None and r.random() < 0.72
        badge = officer.badge_no if badge_known else ""
        if officer is not None and not badge_known and r.random() < 0.3:
            # the complainant wrote a badge that matches nobody (typo, other unit)
            badge = f"{officer.badge_no[:-2]}{r.randint(0, 99):02d}"
        description = "" if badge else f"{r.choice(APPEARANCE).format(dialect=r.choice(DIALECTS))}"
        hour = f"{TIMES[local.hour]}{local.hour % 12 or 12}时许"
        sentences = [
            f"{local.year}年{local.month}月{local.day}日{hour}，"
            f"我{r.choice(ACTIVITIES).format(v=r.choice(VEHICLES))}{place}时，",
        ]
        if badge:
            sentences.append(r.choice([
                f"一名警号为{badge}的辅警将我拦下，",
                f"被胸前编号{badge}的协警拦住，",
                f"遇到辅警{badge}（{officer.name if badge_known else '姓名不详'}）执勤，",
            ]))
        else:
            sentences.append(f"一名{description}的辅警将我拦下，")
        conduct = r.sample(CONDUCT, r.randint(2, 4))
        sentences.append("，".join(self._fill(c, organ, place) for c in conduct) + "。")
        sentences.append(f"我认为其行为属于“{category.label}”。")
        extra = (r.sample(CONSEQUENCES, 3) + r.sample(EVIDENCE, 4) + [r.choice(REQUESTS)]
                 + [f"另外，{c}。" for c in r.sample(CONDUCT, 3)] + r.sample(FOLLOW_UP, 3))
        target = int(r.gauss(298, 20))
        text = "".join(sentences)
        for s in extra:
            if len(text) >= target:
                break
            text += self._fill(s, organ, place)
        state, finding = r.choices(self.states, self.state_weights)[0]
        facts = ""
        if finding:
            facts = r.choice(FACTS).format(
                name=officer.name if officer else "该辅警", c=category.label)
        kind = r.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        return {
            "number": f"TS{self.year}{self.n:07d}",
            "organ_id": self.organ_ids[organ.key],
            "state": state,
            "version": 1,
            "kind": kind,
            "anonymous": r.random() < 0.35,
            "category_code": category.code,
            "officer_id": self.officer_ids.get(badge) if badge_known else None,
            "officer_badge_text": badge,
            "officer_description": description,
            "incident_at": incident_at,
            "incident_place": place,
            "narrative": text,
            "access_code_hash": "bench-not-a-real-hash",
            "submission_key_hash": None,
            "finding": finding,
            "facts": facts,
            "handling": "",
            "created_at": created_at,
            "updated_at": created_at,
        }


# --------------------------------------------------------------------------- queries

# Words and phrases the queries draw from. "common" words occur in a large share of the
# narratives, "rare" ones in a few; phrases are exact substrings of the templates.
COMMON_TERMS = ["辅警", "执法记录仪", "态度蛮横", "推搡", "罚款", "交通事故", "监控", "视频",
                "吃拿卡要", "扣押", "票据", "辱骂", "刁难", "协警", "交通"]
MID_TERMS = ["电动车", "好处费", "网约车", "酒味", "玩手机", "微信", "12345", "删除", "警棍",
             "身份证", "噩梦", "全勤奖", "软组织挫伤", "110", "ETC"]
PHRASES = ["未开启执法记录仪", "索要好处费", "态度蛮横", "吃拿卡要", "不开具任何票据",
           "脱离民警单独执法", "强行删除我拍摄的视频", "交通事故处理", "不出具扣押凭证",
           "酒后执勤", "用警棍指着人威胁", "泄露个人信息", "置之不理", "违规设卡",
           "扣了当月全勤奖", "软组织挫伤"]


def make_queries(tree: Tree, scope_codes: set[str], seed: int, per_class: int,
                 in_scope_badges: list[str]) -> dict[str, list[str]]:
    """Query strings per class, deterministic. Multi-term queries are space-separated
    words (AND); phrases are quoted. Badges are mostly from inside the scope (a few from
    outside: those must return nothing in scope)."""
    rng = random.Random(seed * 13 + 5)
    scope_stems = [o.stem for o in tree.organs if o.key in scope_codes and o.stem]
    rare = scope_stems + rng.sample(STEMS, 10) + [s + "路" for s in scope_stems[:5]]
    one_pool = COMMON_TERMS + MID_TERMS + rare
    word_pool = COMMON_TERMS + MID_TERMS

    def cycle(pool, k):
        pool = pool[:]
        rng.shuffle(pool)
        return [pool[i % len(pool)] for i in range(k)]

    out_badges = [o.badge_no for o in tree.officers if o.organ.split("-")[0] != "BJ"]
    badges = (cycle(in_scope_badges, per_class - per_class // 5)
              + rng.sample(out_badges, per_class // 5))
    return {
        "term1": cycle(one_pool, per_class),
        "term2": [" ".join(rng.sample(word_pool, 2)) for _ in range(per_class)],
        "term3": [" ".join(rng.sample(word_pool, 2) + [rng.choice(rare + word_pool)])
                  for _ in range(per_class)],
        "phrase": [f'"{p}"' for p in cycle(PHRASES, per_class)],
        "badge": badges,
    }


def _main() -> None:
    from workflows.policy import get_packs

    parser = argparse.ArgumentParser()
    parser.add_argument("--docs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    tree = build_tree(args.seed)
    organ_ids = {o.key: i + 1 for i, o in enumerate(tree.organs)}
    officer_ids = {o.badge_no: i + 1 for i, o in enumerate(tree.officers)}
    gen = CorpusGenerator(tree, get_packs(), organ_ids, officer_ids, args.seed)
    print(f"{len(tree.organs)} organs, {len(tree.officers)} officers")
    for _ in range(args.docs):
        row = gen.row()
        print(row["number"], row["state"], row["officer_badge_text"], len(row["narrative"]))
        print(row["narrative"])


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    _main()
