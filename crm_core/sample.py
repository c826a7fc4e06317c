"""Deterministic sample retail dataset with planted, measurable truth.

Why: every analysis page needs data to demonstrate on, and every analysis needs a known answer to be
tested against. The generator plants behavioural segments, association rules, churn drivers,
satisfaction trends and a best campaign channel, then measures each on the generated tables and
records both the design and the measurement in ``planted_truth.json``. The same seed always gives
byte-identical files, so ``crm sample`` can rebuild the shipped ``sample_data/`` exactly.
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from crm_core.errors import InputError
from crm_core.tables import ROLES, TABLES, Dataset

DEFAULT_SEED = 42
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"
TRUTH_FILE = "planted_truth.json"
SEGMENTS_FILE = "planted_segments.csv.gz"

START = np.datetime64("2023-01-01", "D")
N_DAYS = 731  # 2023-01-01 .. 2024-12-31 (2024 is a leap year)
YEAR2_DAY = 365  # 2024-01-01
CHURN_DAY = 641  # 2024-10-03: churned = no purchase from here to the end (90 days)
REFERENCE_DATE = "2025-01-01"  # recency is counted to the day after the last calendar day
N_CUSTOMERS = 5000

CATEGORIES: tuple[str, ...] = (
    "Electronics",
    "Groceries",
    "Beverages",
    "Beauty",
    "Clothing",
    "Home & Kitchen",
    "Sports & Outdoors",
    "Toys & Games",
    "Books",
    "Health",
    "Pet Supplies",
    "Office",
)

# name|price in currency units; 25 products per category, 300 in all.
_CATALOG: dict[str, str] = {
    "Electronics": (
        "Wireless Earbuds|79;Bluetooth Speaker|59;Noise-Cancelling Headphones|249;Smartwatch|199;"
        "Fitness Tracker|69;USB-C Charger 65W|35;Power Bank 20000mAh|39;"
        "Android Smartphone 128GB|399;Tempered Glass Screen Protector|12;Silicone Phone Case|15;"
        "Tablet 10-inch|329;E-Reader|129;Laptop 14-inch|899;Wireless Mouse|25;"
        "Mechanical Keyboard|89;27-inch Monitor|259;HDMI Cable 2m|9;Webcam 1080p|49;"
        "Portable SSD 1TB|99;Smart Home Hub|89;Wi-Fi Router|119;Action Camera|229;"
        "Smart LED Bulb 4-pack|35;Gaming Controller|59;Streaming Stick|49"
    ),
    "Groceries": (
        "Spaghetti 500g|1.8;Tomato Basil Pasta Sauce|3.5;Grated Parmesan 200g|5.9;"
        "Basmati Rice 2kg|6.5;Extra Virgin Olive Oil 1L|9.9;Free-Range Eggs 12-pack|4.2;"
        "Whole Milk 1L|1.6;Greek Yogurt 500g|3.2;Sourdough Bread|3.8;Cheddar Cheese 400g|5.5;"
        "Rolled Oats 1kg|3.3;Wildflower Honey 500g|7.5;Peanut Butter 340g|4.2;"
        "Frozen Dumplings 1kg|8.9;Chicken Breast 1kg|10.5;Salmon Fillet 400g|12.9;"
        "Bananas 1kg|1.9;Gala Apples 1kg|3.4;Baby Spinach 200g|2.6;Avocados 4-pack|4.9;"
        "Light Soy Sauce 500ml|2.9;Instant Noodles 5-pack|3.6;Dark Chocolate Bar|2.8;"
        "Mixed Nuts 500g|8.5;Tortilla Chips|1.9"
    ),
    "Beverages": (
        "Espresso Coffee Beans 1kg|24.9;Oat Milk 1L|2.9;Ground Coffee 500g|9.9;"
        "Green Tea 100 bags|6.5;Jasmine Tea Leaves 250g|12;Sparkling Water 12-pack|6.9;"
        "Orange Juice 1L|3.5;Cold Brew Coffee 4-pack|8.9;Kombucha 4-pack|11.5;"
        "Coconut Water 1L|3.9;Cola 12-pack|7.5;Energy Drink 4-pack|7.2;"
        "Cabernet Red Wine 750ml|18.9;Craft IPA 6-pack|13.5;Hot Chocolate Mix|4.8;"
        "Matcha Powder 100g|15.9;Almond Milk 1L|2.8;Sports Drink 6-pack|6.4;"
        "Mineral Water 24-pack|8.9;Lemon Iced Tea 6-pack|5.5;Oolong Tea 200g|16.5;"
        "Chamomile Tea 40 bags|4.5;Protein Shake 6-pack|14.9;Apple Cider 1L|4.2;"
        "Coffee Capsules 30-pack|13.9"
    ),
    "Beauty": (
        "Hydrating Face Cream 50ml|29;Vitamin C Serum 30ml|34;Sunscreen SPF50|19;"
        "Micellar Cleansing Water|9.5;Sheet Mask 10-pack|15;Matte Lipstick|22;Volume Mascara|18;"
        "Liquid Foundation 30ml|36;Eyeshadow Palette|42;Makeup Brush Set|25;Shampoo 400ml|8.5;"
        "Conditioner 400ml|8.5;Ionic Hair Dryer|59;Body Lotion 400ml|11;Hand Cream|6.5;"
        "Eau de Parfum 50ml|79;Nail Polish|7.5;Gentle Facial Cleanser|12;Eye Cream 15ml|39;"
        "Lip Balm|4.5;Dry Shampoo|7.9;Beard Oil|16;Electric Toothbrush|69;Cotton Pads 200|3.5;"
        "Makeup Remover Wipes|5.9"
    ),
    "Clothing": (
        "Cotton Crew T-Shirt|15;Slim Fit Jeans|45;Hooded Sweatshirt|35;Down Jacket|129;"
        "Running Shoes|89;Canvas Sneakers|49;Wool Sweater|59;Chino Trousers|39;Summer Dress|49;"
        "Puffer Vest|55;Athletic Socks 6-pack|12;Leather Belt|25;Baseball Cap|18;Rain Jacket|69;"
        "Pajama Set|29;Denim Jacket|65;Silk Scarf|35;Leather Ankle Boots|119;Linen Shirt|42;"
        "Yoga Leggings|32;Swim Shorts|25;Cashmere Beanie|38;Polo Shirt|29;"
        "Thermal Underwear Set|27;Leather Sandals|29"
    ),
    "Home & Kitchen": (
        "Nonstick Frying Pan 28cm|35;Stainless Steel Saucepan|39;Chef's Knife 20cm|45;"
        "Bamboo Cutting Board|18;Electric Kettle|35;Rice Cooker|79;Air Fryer 4L|99;Blender|69;"
        "Coffee Grinder|39;Glass Food Containers 10-pack|29;Dinner Plate Set|49;"
        "Ceramic Mug Set|22;Cotton Bath Towel Set|39;Queen Duvet Cover|59;"
        "Memory Foam Pillow|35;Scented Candle|16;Woven Storage Basket|19;"
        "Vacuum Flask 500ml|24;Dish Soap 1L|3.9;Laundry Detergent 3L|14.5;"
        "Paper Towels 6-roll|7.5;Trash Bags 50-pack|6.9;Robot Vacuum|299;LED Desk Lamp|32;"
        "Wall Clock|25"
    ),
    "Sports & Outdoors": (
        "Yoga Mat|29;Yoga Block Set|15;Resistance Bands Set|19;Adjustable Dumbbells|149;"
        "Foam Roller|22;Jump Rope|9;Tennis Racket|89;Tennis Balls 3-pack|6.5;"
        "Badminton Racket Set|35;Basketball|29;Football|25;Cycling Helmet|59;"
        "Water Bottle 1L|15;Hiking Backpack 30L|79;Camping Tent 2-person|129;Sleeping Bag|69;"
        "Trekking Poles|39;Swimming Goggles|14;Gym Bag|35;Fitness Gloves|16;Kettlebell 12kg|45;"
        "Table Tennis Paddle Set|29;LED Headlamp|19;Folding Camping Chair|35;"
        "Insulated Picnic Cooler|49"
    ),
    "Toys & Games": (
        "Building Blocks Set|49;Jigsaw Puzzle 1000 pieces|19;Plush Teddy Bear|22;"
        "Remote Control Car|45;Family Board Game|35;Party Card Game|12;Wooden Train Set|39;"
        "Doll House|79;Art & Craft Kit|25;Science Experiment Kit|32;Speed Cube|9;Kids Scooter|59;"
        "Water Blaster|12;Rainbow Kite|15;Magnetic Tiles 100 pieces|65;Toy Kitchen Set|55;"
        "Modelling Dough 10-pack|11;Mini Camera Drone|69;Baby Rattle Set|14;Wooden Chess Set|29;"
        "Bubble Machine|19;Dinosaur Figures 12-pack|18;Colouring Book|6;Crayons 24-pack|4.5;"
        "Balance Bike|79"
    ),
    "Books": (
        "Mystery Novel Paperback|12.9;Science Fiction Novel|14.9;Everyday Meals Cookbook|24.9;"
        "Children's Picture Book|9.9;Business Strategy Hardcover|28;Self-Help Guide|16.9;"
        "Illustrated World History|35;Travel Guide Japan|22;Language Learning Workbook|19.9;"
        "Graphic Novel|17.5;Poetry Collection|13.5;Biography Hardcover|26;"
        "Photography Handbook|29.9;Gardening Guide|18.5;Fantasy Trilogy Box Set|39.9;"
        "Crossword Puzzle Book|8.9;Baby Name Book|11;Programming in Python|39.9;"
        "Mindfulness Journal|14;Classic Literature Collection|24;Kids Encyclopedia|29;"
        "Romance Novel|11.9;Thriller Paperback|12.5;Art History Guide|32;"
        "Mathematics Study Guide|21"
    ),
    "Health": (
        "Multivitamin 90 tablets|15.9;Vitamin D3 Drops|11.5;Omega-3 Fish Oil 120 caps|19.9;"
        "Probiotic Capsules|24.9;Whey Protein 1kg|34.9;First Aid Kit|22;Digital Thermometer|12.5;"
        "Blood Pressure Monitor|45;Hand Sanitizer 500ml|5.5;Face Masks 50-pack|9.9;"
        "Pain Relief Gel|8.5;Allergy Relief Tablets|9.5;Cough Syrup|7.9;Lubricating Eye Drops|6.9;"
        "Electrolyte Tablets|7.5;Melatonin Sleep Aid|10.9;Electric Heating Pad|29;"
        "Knee Support Brace|18;Dental Floss|3.5;Collagen Powder|27.5;Vitamin C 1000mg|9.9;"
        "Magnesium Tablets|12.9;Contact Lens Solution|9.5;Pulse Oximeter|25;Bath Salts 1kg|12"
    ),
    "Pet Supplies": (
        "Dry Dog Food 5kg|39;Dog Dental Chews|12;Dry Cat Food 3kg|29;Wet Cat Food 12-pack|15;"
        "Clumping Cat Litter 10L|14;Cat Scratching Post|35;Dog Leash|16;Dog Harness|25;"
        "Pet Bed Medium|45;Rubber Chew Toy|8.5;Cat Toy Wand|6.5;Pet Shampoo|11;"
        "Flea & Tick Treatment|29;Dog Training Treats|7.5;Pet Water Fountain|32;"
        "Automatic Pet Feeder|59;Bird Seed 2kg|8.9;Tropical Fish Flakes|6.5;"
        "Small Animal Bedding|12;Poop Bags 120|6.9;Grooming Brush|13;Cat Carrier|39;"
        "Pet Nail Clippers|9.5;Dog Raincoat|22;Catnip|4.5"
    ),
    "Office": (
        "Inkjet Printer|129;Black Ink Cartridge|24;Colour Ink Cartridge|29;"
        "A4 Copy Paper 500 sheets|6.5;Ballpoint Pens 12-pack|5.9;Gel Pens 10-pack|8.9;"
        "Sticky Notes|6.5;Spiral Notebook A5|4.5;Leather Journal|19.9;Stapler|9.9;"
        "Desk Organizer|18;File Folders 25-pack|11;Whiteboard Markers 4-pack|6.9;"
        "Highlighters 6-pack|5.5;Scientific Calculator|19.9;Laminator|39;Paper Shredder|79;"
        "Ergonomic Office Chair|189;Standing Desk Converter|159;Monitor Stand|35;Label Maker|45;"
        "Document Scanner|229;Tape Dispenser|7.5;Envelopes 50-pack|6.9;Weekly Planner|16"
    ),
}

# Fixed popularity of the items in planted rules (other items draw theirs, median 1).
_BOOST: dict[str, float] = {
    "Spaghetti 500g": 4.0,
    "Tomato Basil Pasta Sauce": 9.0,
    "Grated Parmesan 200g": 4.5,
    "Android Smartphone 128GB": 3.0,
    "Tempered Glass Screen Protector": 5.0,
    "Dry Dog Food 5kg": 15.0,
    "Dog Dental Chews": 10.0,
    "Yoga Mat": 12.0,
    "Yoga Block Set": 14.0,
    "Dry Cat Food 3kg": 12.0,
    "Clumping Cat Litter 10L": 14.0,
    "Espresso Coffee Beans 1kg": 4.0,
    "Oat Milk 1L": 9.0,
}


@dataclass(frozen=True)
class _Rule:
    antecedent: tuple[str, ...]
    consequent: str
    lift: float


RULES: tuple[_Rule, ...] = (
    _Rule(("Spaghetti 500g",), "Tomato Basil Pasta Sauce", 3.0),
    _Rule(("Android Smartphone 128GB",), "Tempered Glass Screen Protector", 6.0),
    _Rule(("Dry Dog Food 5kg",), "Dog Dental Chews", 7.0),
    _Rule(("Yoga Mat",), "Yoga Block Set", 8.0),
    _Rule(("Dry Cat Food 3kg",), "Clumping Cat Litter 10L", 5.0),
    _Rule(("Espresso Coffee Beans 1kg",), "Oat Milk 1L", 4.0),
    _Rule(("Spaghetti 500g", "Tomato Basil Pasta Sauce"), "Grated Parmesan 200g", 8.0),
)


@dataclass(frozen=True)
class _Segment:
    """Design of one behavioural segment; every number here is planted truth."""

    name: str
    share: float
    order_gap_days: float  # mean days between orders while active
    lines_mean: float  # mean distinct items per order
    price_pref: float  # exponent on relative price when choosing items (>0 premium)
    category_weights: tuple[float, ...]  # over CATEGORIES
    discount_probs: tuple[float, float, float, float]  # P(price x 1.0, 0.9, 0.8, 0.7)
    churn_logit: float  # base log-odds of churn (lapsed customers always churn)
    complaint_mean: float  # Poisson mean of complaints per customer
    sat_base: float  # mean satisfaction score in January 2023
    sat_slope: float  # change of mean score per month
    sat_amplitude: float  # half the peak-to-trough swing of the yearly season
    sat_peak_month: int  # calendar month with the highest seasonal score
    age_mean: float
    description: str


SEGMENTS: tuple[_Segment, ...] = (
    _Segment(
        name="vip",
        share=0.05,
        order_gap_days=19.0,
        lines_mean=2.6,
        price_pref=1.0,
        category_weights=(5.0, 1.0, 1.5, 3.0, 2.5, 2.0, 1.5, 1.0, 1.0, 1.0, 0.8, 1.2),
        discount_probs=(0.9, 0.1, 0.0, 0.0),
        churn_logit=-4.0,
        complaint_mean=0.4,
        sat_base=3.6,
        sat_slope=0.025,
        sat_amplitude=0.25,
        sat_peak_month=12,
        age_mean=46.0,
        description="Frequent, high-spend buyers of premium electronics and beauty; recent.",
    ),
    _Segment(
        name="loyal_regular",
        share=0.22,
        order_gap_days=40.0,
        lines_mean=1.9,
        price_pref=0.0,
        category_weights=(0.3, 9.0, 3.0, 0.8, 0.6, 1.2, 0.4, 0.5, 0.6, 1.2, 3.0, 0.5),
        discount_probs=(0.75, 0.15, 0.1, 0.0),
        churn_logit=-3.3,
        complaint_mean=0.5,
        sat_base=3.6,
        sat_slope=0.01,
        sat_amplitude=0.2,
        sat_peak_month=6,
        age_mean=42.0,
        description="Regular grocery and pet-food shoppers with a steady mid-size basket.",
    ),
    _Segment(
        name="bargain_hunter",
        share=0.25,
        order_gap_days=60.0,
        lines_mean=1.15,
        price_pref=-2.0,
        category_weights=(0.3, 0.8, 0.8, 2.0, 4.5, 3.0, 0.8, 1.8, 0.6, 1.0, 0.8, 1.0),
        discount_probs=(0.1, 0.2, 0.35, 0.35),
        churn_logit=-2.8,
        complaint_mean=0.6,
        sat_base=3.3,
        sat_slope=0.0,
        sat_amplitude=0.3,
        sat_peak_month=11,
        age_mean=35.0,
        description="Frequent small orders of cheap, discounted clothing and home goods.",
    ),
    _Segment(
        name="new_promising",
        share=0.22,
        order_gap_days=24.0,
        lines_mean=1.8,
        price_pref=-0.3,
        category_weights=(12.0, 0.3, 1.0, 1.5, 1.5, 1.0, 4.0, 0.8, 1.2, 0.6, 0.5, 0.8),
        discount_probs=(0.85, 0.1, 0.05, 0.0),
        churn_logit=-3.8,
        complaint_mean=0.3,
        sat_base=3.7,
        sat_slope=0.03,
        sat_amplitude=0.0,
        sat_peak_month=1,
        age_mean=29.0,
        description="Joined mid-2024; buy electronics and sports gear often for a short tenure.",
    ),
    _Segment(
        name="lapsed",
        share=0.26,
        order_gap_days=50.0,
        lines_mean=1.3,
        price_pref=1.0,
        category_weights=(0.2, 0.2, 0.5, 3.0, 3.0, 1.0, 0.5, 2.0, 2.0, 1.0, 0.2, 0.2),
        discount_probs=(0.6, 0.2, 0.15, 0.05),
        churn_logit=0.0,
        complaint_mean=1.3,
        sat_base=3.5,
        sat_slope=-0.03,
        sat_amplitude=0.25,
        sat_peak_month=1,
        age_mean=38.0,
        description="Bought a few times, then stopped in mid or late 2023; all churned.",
    ),
)

# Activity windows in days from 2023-01-01 (half-open ranges for uniform draws).
NEW_SIGNUP = (520, 580)  # new_promising customers join 2024-06-04 .. 2024-08-02
LAPSED_SIGNUP = (-900, 60)  # lapsed customers joined 2020-07-15 .. 2023-03-01
LAPSED_STOP = (180, 300)  # and stopped buying 2023-06-30 .. 2023-10-27
CHURNER_STOP_FROM = 560  # other churners stop between 2024-07-14 and 2024-10-02

# Churn design (log-odds effects on top of the segment base; lapsed customers always churn).
CHURN_EFFECTS: dict[str, float] = {
    "per_complaint": 0.8,  # capped at 3 complaints
    "declining": 1.5,  # customer's 2024 purchase rate falls to 40% of the 2023 rate
    "per_sd_satisfaction": -0.9,  # customer satisfaction offset, in standard deviations
}
# The design promises at least these churn-rate gaps (all customers / excluding lapsed ones):
# 2+ complaints vs none, falling vs steady purchase frequency, low vs high satisfaction.
CHURN_MARGINS: dict[str, dict[str, float]] = {
    "complaints_2plus_vs_0": {"all": 0.3, "excluding_lapsed": 0.1},
    "falling_vs_steady": {"all": 0.3, "excluding_lapsed": 0.1},
    "low_vs_high_satisfaction": {"all": 0.3, "excluding_lapsed": 0.1},
}
DECLINE_SHARE = 0.2
DECLINE_FACTOR = 0.4
SAT_OFFSET_SD = 0.5
FALLING_RATIO = 0.6  # measured: 2024 pre-window order rate < 60% of the 2023 rate
LOW_SAT = 3.0
HIGH_SAT = 4.0

CAMPAIGN_RESPONSE: dict[str, float] = {"email": 0.08, "SMS": 0.07, "WeChat": 0.18, "phone": 0.09}
CAMPAIGNS: tuple[tuple[str, str], ...] = (
    ("Spring Sale 2023", "2023-03-15"),
    ("618 Mid-Year Sale 2023", "2023-06-08"),
    ("Back to School 2023", "2023-08-20"),
    ("Singles Day 2023", "2023-11-03"),
    ("Christmas 2023", "2023-12-08"),
    ("Lunar New Year 2024", "2024-01-28"),
    ("Spring Sale 2024", "2024-03-15"),
    ("618 Mid-Year Sale 2024", "2024-06-08"),
    ("Singles Day 2024", "2024-11-03"),
    ("Christmas 2024", "2024-12-08"),
)
CAMPAIGN_SIZE = 1800
SURVEY_RATE = 0.12  # share of signed-up customers answering the survey in a given month


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    """Split a compact word list (kept as one string so the tables stay readable)."""
    return tuple(text.split(sep))


_EN_FIRST_F = _words(
    "Emma Olivia Ava Sophia Isabella Mia Charlotte Amelia Harper Evelyn Grace Chloe Lily Hannah "
    "Zoe Ella Lucy Sarah Emily Alice"
)
_EN_FIRST_M = _words(
    "Liam Noah Oliver Elijah James William Benjamin Lucas Henry Alexander Daniel Jack Samuel "
    "Thomas David Ryan Adam Nathan Leo Oscar"
)
_EN_LAST = _words(
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Anderson Thomas Moore Martin "
    "Jackson White Harris Clark Lewis Walker Hall Young King Wright Scott Green Baker Adams "
    "Nelson Hill Campbell"
)
_ZH_LAST = _words(
    "王 李 张 刘 陈 杨 黄 赵 吴 周 徐 孙 马 朱 胡 郭 何 林 罗 高 郑 梁 谢 宋 唐 许 韩 冯 邓 曹"
)
_ZH_FIRST_F = _words(
    "丽 娜 静 敏 婷 雪 慧 芳 欣怡 雨涵 梓涵 思琪 佳怡 诗涵 晓燕 美玲 秀英 玉兰 子涵 可馨"
)
_ZH_FIRST_M = _words(
    "伟 强 磊 军 洋 勇 杰 涛 浩然 子轩 宇航 俊杰 建国 志强 明 鹏 晨 博文 天佑 文轩"
)
_CN_CITIES = _words(
    "Shanghai Beijing Shenzhen Guangzhou Hangzhou Chengdu Nanjing Wuhan Xi'an Suzhou Chongqing "
    "Tianjin"
)
_INTL_CITIES = _words(
    "London|New York|Singapore|Sydney|Toronto|San Francisco|Hong Kong|Manchester|Melbourne|"
    "Vancouver|Shanghai|Beijing",
    sep="|",
)

# (category, direction) -> pairs of (English, Chinese) short messages.
_TEMPLATES: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("complaint", "inbound"): (
        ("The delivery was late again and the box was damaged", "快递又迟到了，包装也坏了"),
        ("I was charged twice for the same order", "同一个订单被扣了两次钱"),
        ("The product stopped working after two days", "产品用了两天就坏了"),
        ("Customer service never called me back", "客服一直没有给我回电话"),
        ("The item I received is not what I ordered", "收到的商品和我订的不一样"),
        ("Several items were missing from my order", "我的订单少了好几件商品"),
        ("The courier was rude and left the parcel outside", "快递员态度很差，把包裹扔在门外"),
        ("My refund still has not arrived after three weeks", "三个星期了退款还没到账"),
        ("The fruit was already spoiled when it arrived", "水果送到的时候已经坏了"),
        ("The price went up right after I paid", "我刚付完款价格就涨了"),
        ("The app keeps crashing at checkout", "结账的时候应用一直闪退"),
        ("Very disappointed with the quality this time", "这次的质量太让人失望了"),
    ),
    ("complaint", "outbound"): (
        (
            "We are sorry about the late delivery; the shipping fee has been refunded",
            "很抱歉配送延迟，运费已退还给您",
        ),
        (
            "Following up on your complaint: a replacement is on its way",
            "关于您的投诉：换货已经寄出",
        ),
        (
            "We apologise for the double charge; the extra payment was returned",
            "很抱歉重复扣款，多扣的款项已退回",
        ),
        ("Your complaint has been escalated to our quality team", "您的投诉已转交质量部门处理"),
    ),
    ("inquiry", "inbound"): (
        ("When will my order be shipped?", "我的订单什么时候发货？"),
        ("Do you deliver to my city on weekends?", "周末可以送货到我的城市吗？"),
        ("How do I change my delivery address?", "怎么修改收货地址？"),
        ("Is this item available in a larger size?", "这个商品有大一号的吗？"),
        ("Can I use two coupons on one order?", "一个订单可以用两张优惠券吗？"),
        ("How many points do I have on my membership card?", "我的会员卡有多少积分？"),
        ("Is the warranty valid overseas?", "保修在国外有效吗？"),
        ("When will the spring sale start?", "春季促销什么时候开始？"),
        ("Can I get an invoice for my company?", "可以给我开公司发票吗？"),
        ("What are your store opening hours?", "你们门店的营业时间是几点？"),
        ("Is this product suitable for children?", "这个产品适合儿童使用吗？"),
        ("How long does express delivery take?", "加急快递需要多长时间？"),
    ),
    ("inquiry", "outbound"): (
        ("Your order has shipped and should arrive in two days", "您的订单已发货，预计两天内送达"),
        (
            "Reminder: your membership points expire at the end of the month",
            "提醒：您的会员积分将在月底过期",
        ),
        ("The item you asked about is back in stock", "您咨询的商品已经到货"),
        ("Please confirm your delivery address for tomorrow", "请确认明天的收货地址"),
    ),
    ("praise", "inbound"): (
        ("Fast delivery and everything was perfectly packed", "送货很快，包装得很好"),
        ("The staff in the store were really helpful today", "今天门店的店员非常热情"),
        ("Great quality for the price, I will buy again", "性价比很高，还会再买"),
        ("Thank you for solving my problem so quickly", "谢谢你们这么快解决了我的问题"),
        ("Love the new product range this season", "很喜欢这一季的新品"),
        ("The courier called ahead and was very polite", "快递员提前打电话，态度很好"),
        ("Best online shopping experience I have had", "这是我最满意的一次网购体验"),
        ("The membership discounts are excellent", "会员折扣非常划算"),
    ),
    ("praise", "outbound"): (
        (
            "Thank you for your kind words; here is a coupon for your next order",
            "感谢您的好评，送您一张下次购物的优惠券",
        ),
        (
            "Thanks for being a loyal customer; enjoy double points this week",
            "感谢您的支持，本周购物享双倍积分",
        ),
    ),
    ("return", "inbound"): (
        ("I would like to return these shoes, they are too small", "这双鞋太小了，我想退货"),
        (
            "The colour is different from the picture, please arrange a return",
            "颜色和图片不一样，请安排退货",
        ),
        ("How do I return a damaged item?", "商品损坏了怎么退货？"),
        ("I changed my mind and want to return the jacket", "我不想要这件外套了，想退货"),
        ("Please exchange this for a different size", "请帮我换一个尺码"),
        ("The blender is faulty, I want a refund", "搅拌机有问题，我要退款"),
        ("I received two of the same item, returning one", "收到了两件一样的商品，退回一件"),
        (
            "The package was opened before it reached me, returning it",
            "包裹送到前就被拆过，我要退回",
        ),
    ),
    ("return", "outbound"): (
        (
            "Your return has been received and the refund is being processed",
            "已收到您的退货，退款正在处理中",
        ),
        ("Here is your prepaid return label", "这是您的预付退货标签"),
        ("Your exchange item has been dispatched", "您换货的商品已经发出"),
    ),
}
_COMM_CATEGORIES: tuple[str, ...] = ("complaint", "inquiry", "praise", "return")
_INBOUND_SHARE: dict[str, float] = {"complaint": 0.85, "inquiry": 0.8, "praise": 0.9, "return": 0.8}
_COMM_CHANNELS: tuple[str, ...] = ("phone", "email", "WeChat", "in-store")
_COMM_CHANNEL_P_EN = (0.3, 0.45, 0.05, 0.2)
_COMM_CHANNEL_P_ZH = (0.25, 0.1, 0.5, 0.15)
_SURVEY_CHANNELS: tuple[str, ...] = ("email", "SMS", "WeChat", "in-store")

# How each column is written: "int", "money" (2 decimals), "date" or text.
_INT_COLUMNS = {"age", "churn", "quantity", "score", "nps", "contacts", "responded"}
_MONEY_COLUMNS = {"unit_price", "amount", "revenue"}


@dataclass
class SampleData:
    """The generated tables plus the planted truth (JSON-ready) and per-customer segments."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, Any]
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)


def generate(seed: int = DEFAULT_SEED) -> SampleData:
    """Build the whole sample in memory; the same seed always gives identical frames."""
    rng = np.random.default_rng(seed)
    products = _products(rng)
    weights = _day_weights()
    customers, latent = _customers(rng)
    orders = _orders(rng, latent, weights)
    lines = _lines(rng, orders, products)
    lines, rules_truth = _plant_rules(rng, lines, len(orders), products)
    transactions = _transactions_frame(rng, orders, lines, products)
    communications = _communications(rng, latent, orders)
    feedback = _feedback(rng, latent)
    campaigns = _campaigns(rng, latent)
    customers["churn"] = latent["churn"].astype("int64")
    tables = {
        "customers": customers,
        "transactions": transactions,
        "communications": communications,
        "feedback": feedback,
        "campaigns": campaigns,
    }
    tables = {name: _canonical(name, frame) for name, frame in tables.items()}
    segments = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "segment": pd.Series([SEGMENTS[s].name for s in latent["segment"]], dtype="str"),
            "declining": latent["declining"].astype("int64"),
            "satisfaction_offset": np.round(latent["sat_z"] * SAT_OFFSET_SD, 3),
            "churn_probability": np.round(latent["churn_p"], 4),
        }
    )
    truth = _truth(seed, tables, segments, latent, rules_truth, products)
    return SampleData(tables=tables, truth=truth, segments=segments)


# ----------------------------------------------------------------------------- building blocks


def _products(rng: np.random.Generator) -> pd.DataFrame:
    """The 300-item catalogue with a popularity weight per item.

    Items of planted rules get a fixed, high weight so every seed gives the rules useful support.
    """
    rows = []
    for category in CATEGORIES:
        for entry in _CATALOG[category].split(";"):
            name, price = entry.split("|")
            rows.append((name, category, round(float(price) * 100)))
    frame = pd.DataFrame(rows, columns=["item", "category", "price_cents"])
    popularity = rng.lognormal(0.0, 0.5, len(frame))
    boost = frame["item"].map(_BOOST)
    frame["popularity"] = np.where(boost.notna(), boost, popularity)
    frame["cat_index"] = frame["category"].map({c: i for i, c in enumerate(CATEGORIES)})
    return frame


def _day_weights() -> np.ndarray:
    """Relative shopping intensity per calendar day: growth, winter peak, weekends, sale days."""
    days = np.arange(N_DAYS)
    dates = pd.DatetimeIndex(START + days.astype("timedelta64[D]"))
    doy = dates.day_of_year.to_numpy()
    w = 1.0 + 0.15 * days / N_DAYS
    w *= 1.0 + 0.15 * np.cos(2 * np.pi * (doy - 350) / 365.25)
    w *= np.where(dates.day_of_week.to_numpy() >= 5, 1.25, 1.0)
    md = dates.month.to_numpy() * 100 + dates.day.to_numpy()
    w *= np.where(md == 1111, 2.5, np.where(np.isin(md, (1110, 1112, 618)), 1.6, 1.0))
    return w / w.mean()


def _sample_days(
    rng: np.random.Generator,
    cum: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    u: np.ndarray | None = None,
) -> np.ndarray:
    """One day per (lo, hi) inclusive interval, with density given by the day weights.

    ``u`` in [0, 1) picks the quantile of the interval's shopping mass; random when omitted.
    """
    if u is None:
        u = rng.random(len(lo))
    target = cum[lo] + u * (cum[hi + 1] - cum[lo])
    return np.clip(np.searchsorted(cum, target, side="right") - 1, lo, hi)


def _customers(rng: np.random.Generator) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Customer attributes and the latent drivers (segment, churn factors, activity window)."""
    n = N_CUSTOMERS
    shares = np.array([s.share for s in SEGMENTS])
    counts = np.floor(shares * n).astype(int)
    counts[0] += n - counts.sum()
    segment = rng.permutation(np.repeat(np.arange(len(SEGMENTS)), counts))
    names = np.array([s.name for s in SEGMENTS])
    is_new = names[segment] == "new_promising"
    is_lapsed = names[segment] == "lapsed"

    # signup: established customers joined 2018-2022, lapsed ones mid-2020 to early 2023,
    # new ones in mid-2024
    signup = rng.integers(-5 * 365, 0, n)
    signup = np.where(is_lapsed, rng.integers(*LAPSED_SIGNUP, n), signup)
    signup = np.where(is_new, rng.integers(*NEW_SIGNUP, n), signup)

    complaints = rng.poisson(np.array([s.complaint_mean for s in SEGMENTS])[segment])
    sat_z = rng.standard_normal(n) - np.where(is_lapsed, 0.5, 0.0)
    declining = (rng.random(n) < DECLINE_SHARE) & ~is_new & ~is_lapsed
    logit = (
        np.array([s.churn_logit for s in SEGMENTS])[segment]
        + CHURN_EFFECTS["per_complaint"] * np.minimum(complaints, 3)
        + CHURN_EFFECTS["declining"] * declining
        + CHURN_EFFECTS["per_sd_satisfaction"] * sat_z
    )
    churn_p = np.where(is_lapsed, 1.0, 1.0 / (1.0 + np.exp(-logit)))
    churn = rng.random(n) < churn_p

    start = np.maximum(signup, 0)
    end = np.full(n, N_DAYS - 1)
    # churners stop buying before the final 90 days; lapsed ones long before
    stop_lo = np.where(is_new, start + 15, np.maximum(start + 30, CHURNER_STOP_FROM))
    stop = stop_lo + (rng.random(n) * (CHURN_DAY - 1 - stop_lo + 1)).astype(int)
    end = np.where(churn, stop, end)
    lapsed_stop = rng.integers(*LAPSED_STOP, n)
    end = np.where(is_lapsed, np.maximum(lapsed_stop, start + 30), end)

    gender_f = rng.random(n) < 0.52
    chinese = rng.random(n) < 0.55
    first = np.where(
        chinese,
        np.where(gender_f, rng.choice(_ZH_FIRST_F, n), rng.choice(_ZH_FIRST_M, n)),
        np.where(gender_f, rng.choice(_EN_FIRST_F, n), rng.choice(_EN_FIRST_M, n)),
    )
    zh_last = rng.choice(_ZH_LAST, n)
    en_last = rng.choice(_EN_LAST, n)
    name = [
        f"{ln}{fn}" if zh else f"{fn} {el}"
        for zh, fn, ln, el in zip(chinese, first, zh_last, en_last, strict=True)
    ]
    cn_weights = np.linspace(2.0, 0.6, len(_CN_CITIES))
    city = np.where(
        chinese & (rng.random(n) < 0.92),
        rng.choice(_CN_CITIES, n, p=cn_weights / cn_weights.sum()),
        rng.choice(_INTL_CITIES, n),
    )
    age_mean = np.array([s.age_mean for s in SEGMENTS])[segment]
    age = np.clip(np.rint(rng.normal(age_mean, 9.0)), 18, 80)

    customers = pd.DataFrame(
        {
            "customer_id": [f"C{i + 1:05d}" for i in range(n)],
            "name": name,
            "gender": np.where(gender_f, "Female", "Male"),
            "age": age,
            "city": city,
            "signup_date": START + signup.astype("timedelta64[D]"),
        }
    )
    latent = {
        "segment": segment,
        "chinese": chinese,
        "complaints": complaints,
        "sat_z": sat_z,
        "declining": declining,
        "churn_p": churn_p,
        "churn": churn,
        "signup": signup,
        "start": start,
        "end": end,
        "rate": rng.lognormal(0.0, 0.25, n)
        / np.array([s.order_gap_days for s in SEGMENTS])[segment],
    }
    return customers, latent


def _orders(
    rng: np.random.Generator, latent: dict[str, np.ndarray], weights: np.ndarray
) -> pd.DataFrame:
    """Order dates per customer: regular shoppers, spread evenly (with jitter) over their window.

    The count is the expected number of orders, stochastically rounded, so frequency reflects the
    segment rather than noise. Declining customers buy at 40% of their rate in 2024. Non-churners
    always get an order in the final 90 days and every customer at least one order, so the churn
    label is exact.
    """
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    start, end, rate = latent["start"], latent["end"], latent["rate"]
    mult2 = np.where(latent["declining"], DECLINE_FACTOR, 1.0)
    idx = np.arange(len(start))
    parts_c: list[np.ndarray] = []
    parts_d: list[np.ndarray] = []
    for lo, hi, mult in (
        (start, np.minimum(end, YEAR2_DAY - 1), 1.0),
        (np.maximum(start, YEAR2_DAY), end, mult2),
    ):
        ok = hi >= lo
        mass = np.where(ok, cum[np.where(ok, hi, 0) + 1] - cum[np.where(ok, lo, 0)], 0.0)
        expected = rate * mult * mass
        count = np.floor(expected + rng.random(len(expected))).astype(np.int64)
        cust = np.repeat(idx, count)
        rank = np.arange(len(cust)) - np.repeat(np.cumsum(count) - count, count)
        u = (rank + rng.random(len(cust))) / count[cust]
        parts_c.append(cust)
        parts_d.append(_sample_days(rng, cum, lo[cust], hi[cust], u))
    cust = np.concatenate(parts_c)
    day = np.concatenate(parts_d)

    active = ~latent["churn"]
    has_recent = np.zeros(len(start), bool)
    has_recent[cust[day >= CHURN_DAY]] = True
    need = idx[active & ~has_recent]
    extra_days = _sample_days(
        rng, cum, np.full(len(need), CHURN_DAY), np.full(len(need), N_DAYS - 1)
    )
    cust = np.concatenate([cust, need])
    day = np.concatenate([day, extra_days])
    has_any = np.zeros(len(start), bool)
    has_any[cust] = True
    need = idx[~has_any]
    cust = np.concatenate([cust, need])
    day = np.concatenate([day, _sample_days(rng, cum, start[need], end[need])])

    order = np.lexsort((cust, day))
    frame = pd.DataFrame({"cust": cust[order], "day": day[order]})
    seg = latent["segment"][frame["cust"].to_numpy()]
    probs = np.array([s.discount_probs for s in SEGMENTS])[seg]
    pick = (rng.random(len(frame))[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
    frame["discount"] = np.array([1.0, 0.9, 0.8, 0.7])[np.minimum(pick, 3)]
    frame["segment"] = seg
    return frame


def _lines(rng: np.random.Generator, orders: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Distinct items per order, chosen by the segment's category and price preferences."""
    seg = orders["segment"].to_numpy()
    lines_mean = np.array([s.lines_mean for s in SEGMENTS])[seg]
    n_lines = 1 + rng.poisson(lines_mean - 1.0)
    order_idx = np.repeat(np.arange(len(orders)), n_lines)
    line_seg = seg[order_idx]
    item = np.empty(len(order_idx), dtype=np.int64)
    price = products["price_cents"].to_numpy() / 100.0
    cat = products["cat_index"].to_numpy()
    for s, spec in enumerate(SEGMENTS):
        rel = np.empty(len(products))
        for c in range(len(CATEGORIES)):
            in_cat = cat == c
            rel[in_cat] = price[in_cat] / np.median(price[in_cat])
        w_item = products["popularity"].to_numpy() * rel**spec.price_pref
        cat_w = np.array(spec.category_weights) / np.sum(spec.category_weights)
        totals = np.bincount(cat, weights=w_item, minlength=len(CATEGORIES))
        p = cat_w[cat] * w_item / totals[cat]
        mask = line_seg == s
        item[mask] = np.searchsorted(np.cumsum(p) / p.sum(), rng.random(mask.sum()), side="right")
    item = np.minimum(item, len(products) - 1)
    frame = pd.DataFrame({"order": order_idx, "item": item})
    frame = frame.drop_duplicates(["order", "item"]).reset_index(drop=True)
    frame["planted"] = False
    return frame


def _plant_rules(
    rng: np.random.Generator, lines: pd.DataFrame, n_orders: int, products: pd.DataFrame
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Add each rule's consequent to just enough antecedent orders to reach the target lift.

    With N orders, n_A antecedent orders, n_B consequent orders and n_AB both, lift is
    N*n_AB/(n_A*n_B). Adding the consequent to x more antecedent orders gives
    x = (L*n_A*n_B - N*n_AB) / (N - L*n_A), so the measured lift lands on the target.
    """
    index = {name: i for i, name in enumerate(products["item"])}
    basket = np.zeros((n_orders, len(products)), dtype=bool)
    basket[lines["order"].to_numpy(), lines["item"].to_numpy()] = True
    added: list[pd.DataFrame] = []
    planting: list[tuple[int, float]] = []
    for rule in RULES:
        ante = np.all(basket[:, [index[a] for a in rule.antecedent]], axis=1)
        b = index[rule.consequent]
        n_a, n_b, n_ab = int(ante.sum()), int(basket[:, b].sum()), int((ante & basket[:, b]).sum())
        x = (rule.lift * n_a * n_b - n_orders * n_ab) / (n_orders - rule.lift * n_a)
        eligible = np.flatnonzero(ante & ~basket[:, b])
        x = int(np.clip(round(x), 0, len(eligible)))
        chosen = np.sort(rng.choice(eligible, size=x, replace=False))
        planting.append((x, x / max(len(eligible), 1)))
        basket[chosen, b] = True
        added.append(pd.DataFrame({"order": chosen, "item": b, "planted": True}))
    lines = pd.concat([lines, *added], ignore_index=True)
    lines = lines.sort_values(["order", "planted", "item"], kind="stable").reset_index(drop=True)

    truth = []
    n_item = basket.sum(axis=0)
    for rule, (n_added, probability) in zip(RULES, planting, strict=True):
        ante = np.all(basket[:, [index[a] for a in rule.antecedent]], axis=1)
        b = index[rule.consequent]
        n_a, n_b, n_ab = int(ante.sum()), int(n_item[b]), int((ante & basket[:, b]).sum())
        truth.append(
            {
                "antecedent": list(rule.antecedent),
                "consequent": rule.consequent,
                "target_lift": rule.lift,
                "lift": round(n_orders * n_ab / (n_a * n_b), 4),
                "support": round(n_ab / n_orders, 5),
                "confidence": round(n_ab / n_a, 4),
                "antecedent_orders": n_a,
                "consequent_orders": n_b,
                "both_orders": n_ab,
                "planted_orders": n_added,
                "planting_probability": round(probability, 4),
            }
        )
    return lines, truth


def _transactions_frame(
    rng: np.random.Generator, orders: pd.DataFrame, lines: pd.DataFrame, products: pd.DataFrame
) -> pd.DataFrame:
    """One row per order line, with quantity, discounted unit price and amount."""
    o = lines["order"].to_numpy()
    it = lines["item"].to_numpy()
    cat = products["cat_index"].to_numpy()[it]
    staples = np.isin(
        cat, [CATEGORIES.index(c) for c in ("Groceries", "Beverages", "Pet Supplies")]
    )
    quantity = np.where(staples, 1 + rng.poisson(0.5, len(o)), 1 + (rng.random(len(o)) < 0.08))
    discount = orders["discount"].to_numpy()[o]
    discount = np.where(lines["planted"].to_numpy(), 1.0, discount)
    cents = np.rint(products["price_cents"].to_numpy()[it] * discount).astype(np.int64)
    cust = orders["cust"].to_numpy()[o]
    return pd.DataFrame(
        {
            "customer_id": [f"C{c + 1:05d}" for c in cust],
            "order_id": [f"O{i + 1:06d}" for i in o],
            "date": START + orders["day"].to_numpy()[o].astype("timedelta64[D]"),
            "item": products["item"].to_numpy()[it],
            "category": products["category"].to_numpy()[it],
            "quantity": quantity.astype(float),
            "unit_price": cents / 100.0,
            "amount": (cents * quantity) / 100.0,
        }
    )


def _communications(
    rng: np.random.Generator, latent: dict[str, np.ndarray], orders: pd.DataFrame
) -> pd.DataFrame:
    """Contact-centre log: exactly the planted number of complaints per customer, plus others."""
    n = len(latent["segment"])
    seg_names = np.array([s.name for s in SEGMENTS])[latent["segment"]]
    last = np.full(n, -1)
    np.maximum.at(last, orders["cust"].to_numpy(), orders["day"].to_numpy())
    lo = latent["start"]
    hi = np.maximum(np.minimum(last + 30, N_DAYS - 1), lo)
    counts = {
        "complaint": latent["complaints"],
        "inquiry": rng.poisson(1.1, n),
        "praise": rng.poisson(np.where(latent["sat_z"] > 0, 0.5, 0.15)),
        "return": rng.poisson(np.where(seg_names == "bargain_hunter", 0.6, 0.25)),
    }
    frames = []
    for category in _COMM_CATEGORIES:
        cust = np.repeat(np.arange(n), counts[category])
        m = len(cust)
        day = lo[cust] + (rng.random(m) * (hi[cust] - lo[cust] + 1)).astype(int)
        inbound = rng.random(m) < _INBOUND_SHARE[category]
        zh = np.where(latent["chinese"][cust], rng.random(m) < 0.85, rng.random(m) < 0.03)
        channel = np.where(
            zh,
            rng.choice(_COMM_CHANNELS, m, p=_COMM_CHANNEL_P_ZH),
            rng.choice(_COMM_CHANNELS, m, p=_COMM_CHANNEL_P_EN),
        )
        text = np.empty(m, dtype=object)
        for direction, mask in (("inbound", inbound), ("outbound", ~inbound)):
            options = _TEMPLATES[(category, direction)]
            pick = rng.integers(0, len(options), m)
            for i in np.flatnonzero(mask):
                text[i] = options[pick[i]][1 if zh[i] else 0]
        frames.append(
            pd.DataFrame(
                {
                    "cust": cust,
                    "day": day,
                    "channel": channel,
                    "direction": np.where(inbound, "inbound", "outbound"),
                    "text": text,
                    "category": category,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["day", "cust"], kind="stable").reset_index(drop=True)
    return pd.DataFrame(
        {
            "customer_id": [f"C{c + 1:05d}" for c in frame["cust"]],
            "date": START + frame["day"].to_numpy().astype("timedelta64[D]"),
            "channel": frame["channel"],
            "direction": frame["direction"],
            "text": frame["text"].astype(str),
            "category": frame["category"],
        }
    )


def satisfaction_mean(segment: str, month_index: np.ndarray) -> np.ndarray:
    """Designed mean score of a segment for months counted from January 2023 (0 = Jan 2023)."""
    spec = next(s for s in SEGMENTS if s.name == segment)
    calendar_month = np.asarray(month_index) % 12 + 1
    season = spec.sat_amplitude * np.cos(2 * np.pi * (calendar_month - spec.sat_peak_month) / 12)
    return spec.sat_base + spec.sat_slope * np.asarray(month_index) + season


def _feedback(rng: np.random.Generator, latent: dict[str, np.ndarray]) -> pd.DataFrame:
    """Monthly relationship surveys: score 1-5 follows each segment's trend and season."""
    n = len(latent["segment"])
    seg_names = np.array([s.name for s in SEGMENTS])
    month_start = pd.date_range("2023-01-01", periods=24, freq="MS")
    frames = []
    for m in range(24):
        first = int((month_start[m] - pd.Timestamp(START)).days)
        last = first + month_start[m].days_in_month - 1
        eligible = (latent["signup"] <= last) & (rng.random(n) < SURVEY_RATE)
        cust = np.flatnonzero(eligible)
        k = len(cust)
        lo = np.maximum(latent["signup"][cust], first)
        day = lo + (rng.random(k) * (last - lo + 1)).astype(int)
        base = np.empty(k)
        for s, name in enumerate(seg_names):
            mask = latent["segment"][cust] == s
            base[mask] = satisfaction_mean(name, np.array([m]))[0]
        mean = base + SAT_OFFSET_SD * latent["sat_z"][cust]
        score = np.clip(np.rint(mean + rng.normal(0, 0.7, k)), 1, 5)
        nps = np.clip(np.rint(2.2 * mean - 1.0 + rng.normal(0, 1.2, k)), 0, 10)
        channel = rng.choice(_SURVEY_CHANNELS, k, p=(0.4, 0.15, 0.3, 0.15))
        frames.append(
            pd.DataFrame({"cust": cust, "day": day, "score": score, "nps": nps, "channel": channel})
        )
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.sort_values(["day", "cust"], kind="stable").reset_index(drop=True)
    return pd.DataFrame(
        {
            "customer_id": [f"C{c + 1:05d}" for c in frame["cust"]],
            "date": START + frame["day"].to_numpy().astype("timedelta64[D]"),
            "score": frame["score"].astype(float),
            "nps": frame["nps"].astype(float),
            "channel": frame["channel"],
        }
    )


def _campaigns(rng: np.random.Generator, latent: dict[str, np.ndarray]) -> pd.DataFrame:
    """Campaign contacts with a random channel each, so channel response rates are unbiased."""
    channels = tuple(CAMPAIGN_RESPONSE)
    rates = np.array([CAMPAIGN_RESPONSE[c] for c in channels])
    spend_scale = {"vip": 180.0, "loyal_regular": 70.0, "bargain_hunter": 35.0}
    scale = np.array([spend_scale.get(s.name, 60.0) for s in SEGMENTS])[latent["segment"]]
    frames = []
    for name, date in CAMPAIGNS:
        day0 = int((pd.Timestamp(date) - pd.Timestamp(START)).days)
        eligible = np.flatnonzero(latent["signup"] <= day0)
        cust = np.sort(rng.choice(eligible, size=min(CAMPAIGN_SIZE, len(eligible)), replace=False))
        k = len(cust)
        ch = rng.integers(0, len(channels), k)
        responded = rng.random(k) < rates[ch]
        revenue = np.where(responded, np.rint(rng.gamma(2.0, scale[cust] / 2.0) * 100) / 100, 0.0)
        frames.append(
            pd.DataFrame(
                {
                    "cust": cust,
                    "campaign": name,
                    "day": day0 + rng.integers(0, 7, k),
                    "channel": np.array(channels)[ch],
                    "contacts": 1 + rng.binomial(2, 0.3, k),
                    "responded": responded.astype(np.int64),
                    "revenue": revenue,
                }
            )
        )
    frame = pd.concat(frames, ignore_index=True)
    return pd.DataFrame(
        {
            "customer_id": [f"C{c + 1:05d}" for c in frame["cust"]],
            "campaign": frame["campaign"],
            "date": START + frame["day"].to_numpy().astype("timedelta64[D]"),
            "channel": frame["channel"],
            "contacts": frame["contacts"].astype(float),
            "responded": frame["responded"],
            "revenue": frame["revenue"],
        }
    )


# ----------------------------------------------------------------------------- measured truth


def customer_features(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The clustering features the segments are planted on, one row per customer (raw scale).

    recency_days (to 2025-01-01), frequency (distinct orders), monetary (total amount),
    avg_order_value, and the share of a customer's order lines in Groceries and in Electronics.
    """
    tx = tables["transactions"]
    orders = tx.groupby("order_id", sort=False).agg(
        customer_id=("customer_id", "first"), date=("date", "first"), amount=("amount", "sum")
    )
    per = orders.groupby("customer_id").agg(
        last=("date", "max"), frequency=("amount", "size"), monetary=("amount", "sum")
    )
    per["recency_days"] = (pd.Timestamp(REFERENCE_DATE) - per["last"]).dt.days.astype(float)
    per["avg_order_value"] = per["monetary"] / per["frequency"]
    lines = tx.groupby("customer_id").size()
    for category in FEATURE_CATEGORIES:
        in_cat = tx[tx["category"] == category].groupby("customer_id").size()
        per[f"share_{category.lower()}"] = (in_cat.reindex(per.index, fill_value=0) / lines).astype(
            float
        )
    per["frequency"] = per["frequency"].astype(float)
    return per.drop(columns="last")


FEATURE_CATEGORIES: tuple[str, ...] = ("Groceries", "Electronics")


def churn_factor_levels(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per customer: churn flag and the level of each named churn factor, measured from tables."""
    customers = tables["customers"].set_index("customer_id")
    out = pd.DataFrame(index=customers.index)
    out["churn"] = customers["churn"].astype(int)

    comms = tables["communications"]
    n_complaints = comms[comms["category"] == "complaint"].groupby("customer_id").size()
    n_complaints = n_complaints.reindex(out.index, fill_value=0)
    out["complaints"] = np.where(n_complaints >= 2, "2+", n_complaints.astype(str))

    tx = tables["transactions"].drop_duplicates("order_id")
    day = (tx["date"] - pd.Timestamp(START)).dt.days
    first = tx[day < YEAR2_DAY].groupby("customer_id").size().reindex(out.index, fill_value=0)
    second = (
        tx[(day >= YEAR2_DAY) & (day < CHURN_DAY)]
        .groupby("customer_id")
        .size()
        .reindex(out.index, fill_value=0)
    )
    ratio = (second / (CHURN_DAY - YEAR2_DAY)) / (first / YEAR2_DAY).where(first > 0)
    out["falling_frequency"] = np.where(
        first < 2, "no_history", np.where(ratio < FALLING_RATIO, "falling", "steady")
    )

    mean_score = tables["feedback"].groupby("customer_id")["score"].mean().reindex(out.index)
    out["satisfaction"] = np.select(
        [mean_score.isna(), mean_score < LOW_SAT, mean_score >= HIGH_SAT],
        ["no_survey", "low", "high"],
        "medium",
    )
    return out


def _rate_table(levels: pd.Series, churn: pd.Series, expected: pd.Series) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level in sorted(levels.unique()):
        mask = levels == level
        out[str(level)] = {
            "customers": int(mask.sum()),
            "churn_rate": round(float(churn[mask].mean()), 4),
            "expected_rate": round(float(expected[mask].mean()), 4),
        }
    return out


def _fit_satisfaction(feedback: pd.DataFrame, segment_of: pd.Series) -> dict[str, dict[str, Any]]:
    """Least-squares trend + yearly season per segment, fitted on individual survey scores.

    A segment observed for less than a year (new customers) gets a trend-only fit, since a
    season cannot be told apart from the trend in a few months.
    """
    month = (feedback["date"].dt.year - 2023) * 12 + feedback["date"].dt.month - 1
    seg = feedback["customer_id"].map(segment_of)
    out: dict[str, dict[str, Any]] = {}
    for spec in SEGMENTS:
        mask = (seg == spec.name).to_numpy()
        t = month.to_numpy()[mask].astype(float)
        y = feedback["score"].to_numpy()[mask]
        cal = t % 12 + 1
        seasonal = len(np.unique(t)) >= 12
        columns = [np.ones_like(t), t]
        if seasonal:
            columns += [np.cos(2 * np.pi * cal / 12), np.sin(2 * np.pi * cal / 12)]
        design = np.column_stack(columns)
        coef, *_ = np.linalg.lstsq(design, y, rcond=None)
        resid = y - design @ coef
        sigma2 = float(resid @ resid) / max(len(y) - design.shape[1], 1)
        cov = sigma2 * np.linalg.inv(design.T @ design)
        fit: dict[str, Any] = {
            "responses": int(mask.sum()),
            "months_observed": len(np.unique(t)),
            "slope_per_month": round(float(coef[1]), 4),
            "slope_standard_error": round(float(np.sqrt(cov[1, 1])), 4),
        }
        if seasonal:
            peak = float(np.arctan2(coef[3], coef[2]) * 12 / (2 * np.pi)) % 12
            fit["season_amplitude"] = round(float(np.hypot(coef[2], coef[3])), 4)
            fit["peak_month"] = (round(peak) - 1) % 12 + 1
        out[spec.name] = fit
    return out


def _truth(
    seed: int,
    tables: dict[str, pd.DataFrame],
    segments: pd.DataFrame,
    latent: dict[str, np.ndarray],
    rules: list[dict[str, Any]],
    products: pd.DataFrame,
) -> dict[str, Any]:
    """Design parameters next to what was measured on the generated tables."""
    tx = tables["transactions"]
    segment_of = segments.set_index("customer_id")["segment"]
    features = customer_features(tables)
    feat_seg = features.index.map(segment_of)

    profiles = []
    for spec in SEGMENTS:
        f = features[feat_seg == spec.name]
        seg_tx = tx[tx["customer_id"].map(segment_of) == spec.name]
        top = seg_tx["category"].value_counts(normalize=True).head(3)
        profiles.append(
            {
                "name": spec.name,
                "description": spec.description,
                "customers": len(f),
                "design": {
                    "share": spec.share,
                    "mean_days_between_orders": spec.order_gap_days,
                    "mean_items_per_order": spec.lines_mean,
                    "price_preference": spec.price_pref,
                    "category_weights": dict(zip(CATEGORIES, spec.category_weights, strict=True)),
                },
                "measured": {
                    "median_recency_days": float(f["recency_days"].median()),
                    "mean_orders": round(float(f["frequency"].mean()), 2),
                    "mean_monetary": round(float(f["monetary"].mean()), 2),
                    "mean_order_value": round(float(f["monetary"].sum() / f["frequency"].sum()), 2),
                    "top_categories": {k: round(float(v), 3) for k, v in top.items()},
                    "churn_rate": round(
                        float(latent["churn"][segments["segment"] == spec.name].mean()), 4
                    ),
                },
            }
        )

    levels = churn_factor_levels(tables)
    churn = levels["churn"]
    expected = segments.set_index("customer_id")["churn_probability"].reindex(levels.index)
    not_lapsed = (segment_of.reindex(levels.index) != "lapsed").to_numpy()
    definitions = {
        "complaints": "communications rows with category 'complaint': 0, 1 or 2+",
        "falling_frequency": (
            f"order rate 2024-01-01..2024-10-02 below {FALLING_RATIO} x the 2023 rate; "
            "'no_history' = fewer than 2 orders in 2023"
        ),
        "satisfaction": (
            f"mean survey score: low < {LOW_SAT}, high >= {HIGH_SAT}; 'no_survey' = no answers"
        ),
    }
    factors = {
        factor: {
            "definition": definition,
            "levels": _rate_table(levels[factor], churn, expected),
            "levels_excluding_lapsed": _rate_table(
                levels[factor][not_lapsed], churn[not_lapsed], expected[not_lapsed]
            ),
        }
        for factor, definition in definitions.items()
    }
    churn_truth = {
        "definition": "no purchase from 2024-10-03 to 2024-12-31 (the final 90 days)",
        "window_start": "2024-10-03",
        "window_end": "2024-12-31",
        "churned_customers": int(churn.sum()),
        "churn_rate": round(float(churn.mean()), 4),
        "design": {
            "model": "logit = segment base + effects; lapsed customers always churn",
            "segment_base_log_odds": {
                s.name: s.churn_logit for s in SEGMENTS if s.name != "lapsed"
            },
            "effects_log_odds": CHURN_EFFECTS,
            "complaints_poisson_mean": {s.name: s.complaint_mean for s in SEGMENTS},
            "declining_share": DECLINE_SHARE,
            "declining_rate_factor_2024": DECLINE_FACTOR,
            "satisfaction_offset_sd": SAT_OFFSET_SD,
        },
        "design_margins": CHURN_MARGINS,
        "factors": factors,
    }

    responses = tables["campaigns"].groupby("channel")["responded"].agg(["size", "sum", "mean"])
    campaign_truth = {
        "design_response_rate": CAMPAIGN_RESPONSE,
        "best_channel": max(CAMPAIGN_RESPONSE, key=CAMPAIGN_RESPONSE.__getitem__),
        "assignment": "channel drawn uniformly at random per contact",
        "measured": {
            str(ch): {
                "contacts": int(row["size"]),
                "responses": int(row["sum"]),
                "response_rate": round(float(row["mean"]), 4),
            }
            for ch, row in responses.iterrows()
        },
    }

    fitted = _fit_satisfaction(tables["feedback"], segment_of)
    sat_truth = {
        "model": (
            "score = round(base + slope*month + amplitude*cos(2*pi*(calendar_month - peak)/12)"
            " + customer offset + noise), clipped to 1..5; month 0 = 2023-01"
        ),
        "segments": {
            s.name: {
                "base": s.sat_base,
                "slope_per_month": s.sat_slope,
                "season_amplitude": s.sat_amplitude,
                "peak_month": s.sat_peak_month,
                "measured": fitted[s.name],
            }
            for s in SEGMENTS
        },
    }

    return {
        "generator": "crm_core.sample",
        "seed": seed,
        "period": {"start": "2023-01-01", "end": "2024-12-31"},
        "sizes": {
            **{name: len(frame) for name, frame in tables.items()},
            "orders": int(tx["order_id"].nunique()),
            "products": int(tx["item"].nunique()),
            "categories": int(tx["category"].nunique()),
            "catalog_products": len(products),
        },
        "segments": {
            "assignment_file": SEGMENTS_FILE,
            "clustering_features": {
                "reference_date": REFERENCE_DATE,
                "features": [
                    "recency_days",
                    "frequency",
                    "monetary",
                    "avg_order_value",
                    *[f"share_{c.lower()}" for c in FEATURE_CATEGORIES],
                ],
                "share_definition": "share of the customer's transaction rows in the category",
                "categories": list(FEATURE_CATEGORIES),
                "transform": "log1p, then standardize; KMeans k=5",
            },
            "profiles": profiles,
        },
        "rules": rules,
        "churn": churn_truth,
        "satisfaction": sat_truth,
        "campaigns": campaign_truth,
        "sales_pattern": {
            "growth_over_period": 0.15,
            "winter_peak_amplitude": 0.15,
            "weekend_factor": 1.25,
            "sale_days": {"11-11": 2.5, "11-10": 1.6, "11-12": 1.6, "06-18": 1.6},
        },
    }


# ----------------------------------------------------------------------------- files


def _canonical(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Type a table by its roles: ids/text/categories str, dates datetime64[ns], numbers float."""
    roles = ROLES[table]
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column, kind in roles.items():
        if column not in frame.columns:
            continue
        values = frame[column].reset_index(drop=True)
        if kind == "date":
            out[column] = pd.to_datetime(values).astype("datetime64[ns]")
        elif kind in ("number", "money"):
            out[column] = values.astype("float64")
        elif kind == "label":
            out[column] = values.astype("int64")
        else:
            out[column] = values.astype("str")
    return out


def _csv_bytes(frame: pd.DataFrame, float_format: str = "%.2f") -> bytes:
    """CSV text with fixed formats: integers as integers, money with two decimals, ISO dates."""
    out = frame.copy()
    for column in out.columns:
        if column in _INT_COLUMNS:
            out[column] = out[column].astype("int64")
        elif pd.api.types.is_datetime64_any_dtype(out[column].dtype):
            out[column] = out[column].dt.strftime("%Y-%m-%d")
    return out.to_csv(index=False, lineterminator="\n", float_format=float_format).encode("utf-8")


def _gzip_bytes(data: bytes) -> bytes:
    """Gzip with no file name and mtime 0, so equal input gives byte-identical output."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(data)
    return buffer.getvalue()


def write_sample(directory: Path, seed: int = DEFAULT_SEED) -> list[Path]:
    """Generate and write the sample files; the same seed always writes the same bytes."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sample = generate(seed)
    contents: dict[str, bytes] = {
        f"{name}.csv.gz": _gzip_bytes(_csv_bytes(sample.tables[name])) for name in TABLES
    }
    contents[SEGMENTS_FILE] = _gzip_bytes(_csv_bytes(sample.segments, float_format="%.4f"))
    text = json.dumps(sample.truth, indent=2, ensure_ascii=False) + "\n"
    contents[TRUTH_FILE] = text.encode("utf-8")
    written = []
    for filename, data in contents.items():
        path = directory / filename
        path.write_bytes(data)
        written.append(path)
    return written


def _require(path: Path) -> Path:
    if not path.is_file():
        raise InputError("sample.missing", path=str(path))
    return path


def load_sample(directory: Path | None = None) -> Dataset:
    """Read the shipped sample files back into canonical typed tables, as dataset "sample"."""
    from crm_core.store import dataset_fingerprint

    directory = Path(directory) if directory is not None else SAMPLE_DIR
    tables = {}
    for name in TABLES:
        path = _require(directory / f"{name}.csv.gz")
        strings = [c for c, k in ROLES[name].items() if k in ("id", "text", "category")]
        frame = pd.read_csv(
            path, dtype=dict.fromkeys(strings, "str"), keep_default_na=False, na_values=[""]
        )
        for column, kind in ROLES[name].items():
            if column in frame.columns and kind == "date":
                frame[column] = pd.to_datetime(frame[column], format="%Y-%m-%d")
        tables[name] = _canonical(name, frame)
    return Dataset(name="sample", tables=tables, fingerprint=dataset_fingerprint(tables))


def load_truth(directory: Path | None = None) -> dict[str, Any]:
    """The planted truth recorded beside the shipped sample."""
    directory = Path(directory) if directory is not None else SAMPLE_DIR
    return json.loads(_require(directory / TRUTH_FILE).read_text(encoding="utf-8"))


def load_segments(directory: Path | None = None) -> pd.DataFrame:
    """Each customer's planted segment (and latent churn drivers) from the shipped sample."""
    directory = Path(directory) if directory is not None else SAMPLE_DIR
    return pd.read_csv(
        _require(directory / SEGMENTS_FILE), dtype={"customer_id": "str", "segment": "str"}
    )
