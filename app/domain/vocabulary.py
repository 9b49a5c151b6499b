"""Fixed codes of the domain with their Chinese and English labels.

These codes are part of the API contract: tablets send them, reports group by them.
"""
from __future__ import annotations

from enum import StrEnum


class Station(StrEnum):
    """Where a person is in the site. The first five are staffed stations with tablets;
    EMERGENCY is where someone with an adverse event is looked after."""

    CHECKIN = "checkin"
    CONSENT = "consent"
    INJECTION = "injection"
    OBSERVATION = "observation"
    EXIT = "exit"
    EMERGENCY = "emergency"


STATIONS = (Station.CHECKIN, Station.CONSENT, Station.INJECTION, Station.OBSERVATION, Station.EXIT)
QUEUE_STATIONS = (Station.CONSENT, Station.INJECTION)  # stations with a call-next queue


class ConsentOutcome(StrEnum):
    ELIGIBLE = "eligible"
    DEFERRED = "deferred"
    REFUSED = "refused"


class AefiOutcome(StrEnum):
    RECOVERED = "recovered"
    TRANSFERRED = "transferred"

STATION_LABELS = {
    "checkin": {"zh": "登记", "en": "Check-in"},
    "consent": {"zh": "知情同意", "en": "Consent"},
    "injection": {"zh": "接种", "en": "Injection"},
    "observation": {"zh": "留观", "en": "Observation"},
    "exit": {"zh": "离场", "en": "Exit"},
}

# Screening questions asked at the consent desk. A "yes" to any of them is a contraindication.
SCREENING_QUESTIONS = {
    "fever": {"zh": "发热（腋温≥37.3℃）", "en": "Fever (axillary temperature 37.3 °C or higher)"},
    "acute_illness": {"zh": "急性疾病", "en": "Acute illness"},
    "chronic_uncontrolled": {
        "zh": "慢性病急性发作期或未控制的严重慢性病",
        "en": "Uncontrolled or acutely worsening chronic disease",
    },
    "vaccine_allergy": {
        "zh": "对疫苗任何成分过敏，或既往接种疫苗后出现严重过敏反应",
        "en": "Allergy to any vaccine component, or a previous severe allergic reaction to a vaccine",
    },
    "neurological": {
        "zh": "未控制的癫痫或其他严重神经系统疾病",
        "en": "Uncontrolled epilepsy or another severe neurological disease",
    },
    "pregnancy": {"zh": "妊娠期", "en": "Pregnancy"},
}

DEFERRAL_REASONS = {
    "fever": {"zh": "发热", "en": "Fever"},
    "acute_illness": {"zh": "急性疾病", "en": "Acute illness"},
    "chronic_uncontrolled": {"zh": "慢性病未控制", "en": "Uncontrolled chronic disease"},
    "allergy": {"zh": "过敏史（需评估）", "en": "Allergy history (needs assessment)"},
    "neurological": {"zh": "神经系统疾病", "en": "Neurological disease"},
    "pregnancy": {"zh": "妊娠期", "en": "Pregnancy"},
    "recent_vaccination": {"zh": "近期接种其他疫苗", "en": "Another vaccine received recently"},
    "interval_too_short": {"zh": "距上一剂间隔不足", "en": "Too soon after the previous dose"},
    "other": {"zh": "其他", "en": "Other"},
}

# 三查七对一验证: three checks, seven matches, one verification (eleven items).
CHECKLIST = {
    "check_health": {"zh": "查受种者健康状况和接种禁忌", "en": "Check health and contraindications"},
    "check_record": {"zh": "查预防接种证（卡）", "en": "Check the vaccination record or certificate"},
    "check_vaccine": {
        "zh": "查疫苗、注射器外观、批号、有效期",
        "en": "Check vaccine and syringe appearance, lot and expiry",
    },
    "match_name": {"zh": "核对受种者姓名", "en": "Match name"},
    "match_age": {"zh": "核对年龄", "en": "Match age"},
    "match_vaccine": {"zh": "核对疫苗品名", "en": "Match vaccine name"},
    "match_specification": {"zh": "核对规格", "en": "Match specification"},
    "match_dose": {"zh": "核对剂量/剂次", "en": "Match dose"},
    "match_site": {"zh": "核对接种部位", "en": "Match injection site"},
    "match_route": {"zh": "核对接种途径", "en": "Match route"},
    "verify_with_recipient": {
        "zh": "受种者或监护人确认疫苗品种和有效期",
        "en": "Recipient or guardian confirms vaccine type and expiry",
    },
}

INJECTION_SITES = {
    "left_deltoid": {"zh": "左上臂三角肌", "en": "Left deltoid"},
    "right_deltoid": {"zh": "右上臂三角肌", "en": "Right deltoid"},
}
ROUTES = {"IM": {"zh": "肌内注射", "en": "Intramuscular"}}

HEALTH_CODES = ("green", "yellow", "red")
# Symptoms offered on the adverse-event form (free text is allowed as well).
AEFI_SYMPTOMS = {
    "injection_site_reaction": {"zh": "接种部位红肿、疼痛", "en": "Redness, swelling or pain at the injection site"},
    "fever": {"zh": "发热", "en": "Fever"},
    "dizziness": {"zh": "头晕", "en": "Dizziness"},
    "syncope": {"zh": "晕厥", "en": "Fainting"},
    "nausea": {"zh": "恶心、呕吐", "en": "Nausea or vomiting"},
    "rash": {"zh": "皮疹、荨麻疹", "en": "Rash or hives"},
    "palpitations": {"zh": "心悸", "en": "Palpitations"},
    "dyspnoea": {"zh": "呼吸困难", "en": "Difficulty breathing"},
    "anaphylaxis": {"zh": "过敏性休克", "en": "Anaphylaxis"},
}
AEFI_SEVERITIES = ("minor", "severe", "serious")
AEFI_SERIOUS_CRITERIA = {
    "death": {"zh": "死亡", "en": "Death"},
    "life_threatening": {"zh": "危及生命", "en": "Life-threatening"},
    "hospitalisation": {"zh": "住院或延长住院", "en": "Hospitalisation"},
    "disability": {"zh": "永久或显著伤残", "en": "Disability"},
    "medically_important": {"zh": "其他重要医学事件", "en": "Other medically important event"},
}
# Reporting deadlines for an adverse event, in hours after it became known.
AEFI_REPORT_HOURS = {"serious": 2, "severe": 48, "minor": 48}
