"""A small hand-written deal pack for tests: every master table, every reference."""

from __future__ import annotations

from pathlib import Path

MINIMAL_PACK: dict[str, str] = {
    "parties.csv": """party_id,name,kind,country,identifier
us-dod,US Department of Defense,state,US,
ua-mod,Ministry of Defence of Ukraine,state,UA,
urif,US-Ukraine Reconstruction Investment Fund,fund,US,
ua-mfr-001,Vezha Aero LLC,manufacturer,UA,UA-EDRPOU-40000001
ua-mfr-002,Skyline Dynamics ТОВ,manufacturer,UA,
us-prime-001,Liberty Arms Inc.,manufacturer,US,
""",
    "products.csv": """product_id,supplier_id,name,category,unit_price,currency,monthly_capacity,nsn
prd-0001,ua-mfr-001,Vezha-7 interceptor,uas.interceptor,4200.00,USD,500,
prd-0002,ua-mfr-002,Obriy long-range UAS,uas.long_range,245000.00,USD,20,1550-01-234-5678
prd-0003,ua-mfr-002,Kit trainer course,training,1250000.00,UAH,4,
prd-0004,us-prime-001,Patriot-class interceptor,air_defense,4100000.00,USD,10,
""",
    "bom.csv": """product_id,part_number,component_category,manufacturer,manufacturer_country,origin_country,quantity
prd-0001,FC-100,flight_controller,Vezha Aero LLC,UA,UA,1
prd-0001,CAM-22,camera,Optika Kyiv,UA,UA,1
prd-0002,RAD-9,radio,Nordic Radio AS,NO,NO,2
prd-0002,GNSS-1,gnss,Shenzhen Nav Co. Ltd.,CN,CN,1
""",
    "agreements.yaml": """- agreement_id: ua-us-2025
  title: Ukraine–United States drone deal
  currency: USD
  ceiling: "30000000000"
  signed_on: 2025-08-01
  ends_on: 2028-12-31
  flows:
    - flow_id: drones-to-us
      buyer_id: us-dod
      end_user_id: us-dod
      seller_country: UA
      license_required: true
      categories: ["uas.*", "cuas", "training", "tech_transfer"]
      rulesets: [us-uas-supply-chain]
    - flow_id: weapons-to-ua
      buyer_id: ua-mod
      seller_country: US
      license_required: false
      categories: ["*"]
      rulesets: []
  fund:
    party_id: urif
    contributions:
      - {flow_id: drones-to-us, payer_id: us-dod, share: "0.05"}
  reciprocity:
    numerator_flow: weapons-to-ua
    denominator_flow: drones-to-us
    min_ratio: "0.8"
""",
    "orders.csv": """order_id,agreement_id,flow_id,buyer_id,supplier_id,product_id,quantity,unit_price,currency,due_on
ord-0001,ua-us-2025,drones-to-us,us-dod,ua-mfr-001,prd-0001,1000,4200.00,USD,2026-03-31
ord-0002,ua-us-2025,drones-to-us,us-dod,ua-mfr-002,prd-0003,2,1250000.00,UAH,2026-06-30
""",
    "licenses.csv": """license_id,authority_country,exporter_id,end_user_id,product_id,max_quantity,max_value,currency,valid_from,valid_to
lic-0001,UA,ua-mfr-001,us-dod,prd-0001,1200,5040000.00,USD,2025-09-01,2026-12-31
""",
    "fx_rates.csv": """date,base,quote,rate
2025-07-01,USD,UAH,41.3
2025-08-01,USD,UAH,41.52
2025-08-01,USD,EUR,0.8612
""",
}


def write_pack(folder: Path, files: dict[str, str] | None = None, **overrides: str | None) -> Path:
    """Write the minimal pack (or `files`) to `folder`; `name=None` leaves a file out."""
    folder.mkdir(parents=True, exist_ok=True)
    contents = dict(files if files is not None else MINIMAL_PACK)
    for name, text in overrides.items():
        filename = name.replace("__", ".")
        if text is None:
            contents.pop(filename, None)
        else:
            contents[filename] = text
    for name, text in contents.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
