"""Fictional names for the demo deal: manufacturers, component makers, product lines.

Every company here is invented. Ukrainian makers are built from Ukrainian words
(transliterated) or plain English stems, a line of business and a legal form; names of
real drone makers and of their well-known products are left out on purpose. The only
real names are the two entities that US law itself names (DJI, Autel Robotics), used as
component makers so that the built-in ruleset's entity list has something to find.
"""

from __future__ import annotations

import random

# Stems that read as Ukrainian brand names; checked against the better-known drone and
# electronic-warfare makers and their product names, none of which appear here.
UA_STEMS = (
    "Vezha", "Krylo", "Zoria", "Stepovyk", "Polissia", "Karpaty", "Dnister", "Synytsia",
    "Viter", "Kalyna", "Lastivka", "Obrii", "Pivden", "Tavria", "Khortytsia", "Berehynia",
    "Volyn", "Podil", "Sloboda", "Soniakh", "Yavir", "Smereka", "Dzvin", "Promin",
    "Kobchyk", "Hornostai", "Bdzhola", "Rubizh", "Kremin", "Svitanok", "Horlytsia", "Lys",
    "Skyline", "Northwind", "Steppe Vector", "Blue Meridian", "Bright Forge", "Silver Birch",
    "Granite Sky", "Field Relay",
)
UA_LINES = (
    "Aero", "Dynamics", "Avionics", "Robotics", "Unmanned Systems", "Marine Robotics",
    "Defence Tech", "Engineering", "Labs", "Airworks", "Electronics", "Mechatronics",
)
UA_LEGAL_FORMS = ("LLC", "ТОВ", "ТОВ", "PrJSC", "ПП")


def ukrainian_makers(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """`count` distinct (name, model prefix) pairs such as ("Vezha Aero LLC", "VZ")."""
    pairs = [(stem, line) for stem in UA_STEMS for line in UA_LINES]
    assert count <= len(pairs), f"at most {len(pairs)} distinct Ukrainian makers"
    makers = []
    for stem, line in rng.sample(pairs, count):
        form = rng.choice(UA_LEGAL_FORMS)
        makers.append((f"{stem} {line} {form}", model_prefix(stem)))
    return makers


def model_prefix(stem: str) -> str:
    """`Vezha` -> `VZ`, `Blue Meridian` -> `BM`: the letters a maker puts on its models."""
    words = stem.split()
    if len(words) > 1:
        return "".join(word[0] for word in words).upper()
    consonant = next((c for c in stem[1:] if c.lower() not in "aeiouy"), stem[1])
    return (stem[0] + consonant).upper()


#: US defence primes (all fictional) and the product lines they sell to Ukraine.
US_PRIMES = (
    ("Allegheny Missile Systems Inc.", ("air_defense", "munition", "training")),
    ("Cumberland Ordnance Corp.", ("munition", "other")),
    ("Great Plains Armored Vehicles Inc.", ("vehicle", "training", "other")),
    ("Cascade Air Defense Systems LLC", ("air_defense", "other")),
    ("Tidewater Sustainment Services LLC", ("training", "other", "vehicle")),
)

#: (category, name, USD low, USD high, monthly capacity low, high, NSN federal supply class)
US_PRODUCT_LINES = (
    ("air_defense", "Medium-range air-defense interceptor missile", 3_400_000, 4_300_000, 8, 30,
     "1410"),
    ("air_defense", "Short-range air-defense interceptor missile", 400_000, 1_200_000, 20, 80,
     "1410"),
    ("air_defense", "Air-defense launcher station", 8_000_000, 12_000_000, 1, 4, "1440"),
    ("air_defense", "Air-defense engagement control station", 20_000_000, 45_000_000, 1, 2,
     "1430"),
    ("munition", "155 mm artillery projectile", 3_000, 8_500, 8_000, 40_000, "1320"),
    ("munition", "105 mm artillery projectile", 1_200, 2_500, 5_000, 20_000, "1315"),
    ("munition", "Guided rocket pod, six rockets", 900_000, 1_300_000, 10, 40, "1340"),
    ("munition", "Precision-guided artillery projectile", 80_000, 120_000, 50, 300, "1320"),
    ("vehicle", "Infantry fighting vehicle, refurbished", 2_500_000, 4_500_000, 5, 25, "2350"),
    ("vehicle", "Armored personnel carrier", 800_000, 1_600_000, 10, 40, "2350"),
    ("vehicle", "Tactical truck, 5-ton", 250_000, 400_000, 30, 120, "2320"),
    ("vehicle", "Armored medical evacuation vehicle", 1_200_000, 2_000_000, 5, 20, "2350"),
    ("training", "Air-defense crew training course, per battery", 1_000_000, 3_000_000, 1, 3,
     "6910"),
    ("training", "Vehicle maintenance training course", 200_000, 600_000, 2, 6, "6910"),
    ("other", "Spare parts and sustainment package", 500_000, 5_000_000, 2, 10, "5998"),
    ("other", "Tactical radio set", 10_000, 40_000, 200, 1_500, "5820"),
)

#: What each Ukrainian product category is called in a product name.
UA_PRODUCT_LINES: dict[str, tuple[str, ...]] = {
    "uas.small": ("FPV quadcopter, 7-inch", "FPV quadcopter, 10-inch", "FPV quadcopter, 13-inch",
                  "reconnaissance quadcopter", "fibre-optic FPV quadcopter"),
    "uas.tactical": ("tactical reconnaissance UAS", "fixed-wing reconnaissance UAS",
                     "VTOL reconnaissance UAS", "heavy multirotor UAS"),
    "uas.long_range": ("long-range fixed-wing UAS", "long-range jet-powered UAS",
                       "long-range UAS airframe"),
    "uas.interceptor": ("interceptor UAS", "high-speed interceptor UAS",
                        "interceptor UAS with thermal seeker head"),
    "usv": ("uncrewed surface vessel", "uncrewed surface vessel, logistics",
            "uncrewed surface vessel, patrol"),
    "ugv": ("tracked UGV, logistics", "wheeled UGV, casualty evacuation",
            "tracked UGV, mine clearing"),
    "cuas": ("counter-UAS passive RF detection kit", "counter-UAS acoustic sensor network",
             "counter-UAS radar kit"),
    "ew": ("portable RF jammer", "vehicle EW suite", "RF spectrum monitoring station"),
    "training": ("operator training course, 4 weeks", "maintenance training course",
                 "instructor training course"),
    "tech_transfer": ("production technology transfer package", "licensed production package",
                      "airframe design licence"),
    "other": ("ground control station", "spare parts kit", "field repair workshop"),
}

#: Clean component makers (all fictional): (name, country of domicile, country of origin).
CLEAN_MAKERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "flight_controller": (
        ("Lviv Avionika ТОВ", "UA", "UA"), ("Northbridge Avionics Inc.", "US", "US"),
        ("Hsinchu Flight Electronics Co., Ltd.", "TW", "TW"),
        ("Oberland Sensorik GmbH", "DE", "DE"), ("Wisła Elektronika Sp. z o.o.", "PL", "PL"),
    ),
    "radio": (
        ("Tallinn Radiolink OÜ", "EE", "EE"), ("Redwood RF Inc.", "US", "US"),
        ("Kyiv Telemetry Labs LLC", "UA", "UA"), ("Hsinchu Flight Electronics Co., Ltd.", "TW",
                                                  "TW"),
    ),
    "data_transmission": (
        ("Kyiv Telemetry Labs LLC", "UA", "UA"), ("Redwood RF Inc.", "US", "US"),
        ("Tallinn Radiolink OÜ", "EE", "EE"), ("Daejeon Optronics Co., Ltd.", "KR", "KR"),
    ),
    "camera": (
        ("Odesa Optics ТОВ", "UA", "UA"), ("Lakeshore Imaging Inc.", "US", "US"),
        ("Sendai Optical Co., Ltd.", "JP", "JP"), ("Daejeon Optronics Co., Ltd.", "KR", "KR"),
        ("Optique Alpine SAS", "FR", "FR"),
    ),
    "gimbal": (
        ("Taichung Gimbal Works Co., Ltd.", "TW", "TW"), ("Odesa Optics ТОВ", "UA", "UA"),
        ("Oberland Sensorik GmbH", "DE", "DE"),
    ),
    "ground_control_system": (
        ("Kyiv Telemetry Labs LLC", "UA", "UA"), ("Northbridge Avionics Inc.", "US", "US"),
    ),
    "operating_software": (
        ("Vinnytsia Soft ТОВ", "UA", "UA"), ("Northbridge Avionics Inc.", "US", "US"),
    ),
    "network_connectivity": (
        ("Harbor Cloud Services Inc.", "US", "US"), ("Delta Datacenters B.V.", "NL", "NL"),
    ),
    "data_storage": (
        ("Harbor Cloud Services Inc.", "US", "US"), ("Delta Datacenters B.V.", "NL", "NL"),
        ("Vinnytsia Soft ТОВ", "UA", "UA"),
    ),
    "gnss": (
        ("Baltic Navigation UAB", "LT", "LT"), ("Prairie Nav Systems Inc.", "US", "US"),
        ("Hsinchu Flight Electronics Co., Ltd.", "TW", "TW"),
    ),
    "thermal_imager": (
        ("Saimaa Thermal Oy", "FI", "FI"), ("Mesa Thermal Inc.", "US", "US"),
        ("Odesa Optics ТОВ", "UA", "UA"),
    ),
    "motor": (
        ("Dnipro Electromotors ТОВ", "UA", "UA"), ("Kansai Precision Motors Co., Ltd.", "JP",
                                                   "JP"),
        ("Formosa Motion Co., Ltd.", "TW", "TW"), ("Rheintal Antriebe GmbH", "DE", "DE"),
    ),
    "battery": (
        ("Poltava Power Cells ТОВ", "UA", "UA"), ("Hanbit Battery Co., Ltd.", "KR", "KR"),
        ("Yokohama Cell Industries Co., Ltd.", "JP", "JP"), ("Morava Power s.r.o.", "CZ", "CZ"),
        ("Appalachian Battery Corp.", "US", "US"),
    ),
    "frame": (
        ("Chernihiv Composites ТОВ", "UA", "UA"), ("Mazury Composites Sp. z o.o.", "PL", "PL"),
    ),
    "propeller": (
        ("Zhytomyr Propeller Works ТОВ", "UA", "UA"), ("Formosa Motion Co., Ltd.", "TW", "TW"),
    ),
    "other": (
        ("Chernihiv Composites ТОВ", "UA", "UA"), ("Wisła Elektronika Sp. z o.o.", "PL", "PL"),
    ),
}

#: Components that the US rules flag: (category, maker, domicile, origin, why it is flagged).
FLAGGED_COMPONENTS = (
    ("camera", "Shenzhen Lianhe Imaging Co., Ltd.", "CN", "CN", "camera made in CN"),
    ("radio", "SZ DJI Technology Co., Ltd.", "CN", "CN", "radio by a covered entity"),
    ("flight_controller", "Hsinchu Flight Electronics Co., Ltd.", "TW", "CN",
     "Taiwanese maker, board made in CN"),
    ("gimbal", "Autel Robotics Co., Ltd.", "CN", "CN", "gimbal by a covered entity"),
    ("data_storage", "Vinnytsia Soft ТОВ", "UA", "RU", "telemetry stored on servers in RU"),
    ("data_transmission", "Guangzhou Tianxun Communication Co., Ltd.", "CN", "CN",
     "video link made in CN"),
    ("camera", "SZ DJI Technology Co., Ltd.", "CN", "CN", "camera by a covered entity"),
    ("radio", "Tabriz Radio Industries Co.", "IR", "IR", "radio made in IR"),
)

#: CN components outside the §848 hardware list (gnss, motor, battery): realistic edge cases.
EDGE_COMPONENTS = (
    ("motor", "Dongguan Feihang Motor Co., Ltd.", "CN", "CN"),
    ("battery", "Shenzhen Xinneng Battery Co., Ltd.", "CN", "CN"),
    ("gnss", "Wuhan Beixing Navigation Co., Ltd.", "CN", "CN"),
)

#: Short codes that start a part number.
PART_CODES: dict[str, str] = {
    "flight_controller": "FC", "radio": "RF", "data_transmission": "DL", "camera": "CAM",
    "gimbal": "GMB", "ground_control_system": "GCS", "operating_software": "SW",
    "network_connectivity": "NET", "data_storage": "DS", "gnss": "GNSS",
    "thermal_imager": "TI", "motor": "MOT", "battery": "BAT", "frame": "FRM",
    "propeller": "PRP", "other": "MSC",
}
