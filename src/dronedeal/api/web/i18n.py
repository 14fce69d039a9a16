"""The dashboard's two languages: English and Ukrainian, and figures formatted per locale.

Words are looked up in `MESSAGES` by their English text (the English is the key, so a
missing Ukrainian entry falls back to readable English, never to an id). Numbers, money
and dates go through Babel with the page's locale; the raw figure travels beside the
formatted one in a `data-value` attribute, so tests and scripts read exact values.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Final

from babel.dates import format_date
from babel.numbers import (
    format_decimal,
    format_percent,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)

from dronedeal.core.money import digits as minor_digits

LANGUAGES: Final = ("en", "uk")
LOCALES: Final = {"en": "en_US", "uk": "uk_UA"}
#: language -> (group separator, decimal sign, minus sign) of its locale's numbers
SYMBOLS: Final = {lang: (get_group_symbol(locale), get_decimal_symbol(locale),
                         get_minus_sign_symbol(locale)) for lang, locale in LOCALES.items()}

#: English text -> Ukrainian text
UK: Final[dict[str, str]] = {
    "Overview": "Огляд",
    "Agreements": "Угоди",
    "Agreement": "Угода",
    "Audit": "Аудит",
    "Compliance": "Відповідність",
    "Licenses": "Ліцензії",
    "Suppliers": "Постачальники",
    "Supplier": "Постачальник",
    "Lots": "Партії",
    "Import": "Імпорт",
    "Log in": "Увійти",
    "Log out": "Вийти",
    "Public view": "Публічний перегляд",
    "Signed in as": "Ви увійшли як",
    "Paste your API token": "Вставте свій API-токен",
    "The token is not valid.": "Токен недійсний.",
    "Ceiling": "Стеля",
    "Ceiling used": "Використано стелі",
    "Ordered": "Замовлено",
    "Shipped": "Відвантажено",
    "Accepted": "Прийнято",
    "Rejected": "Відхилено",
    "Paid": "Сплачено",
    "Units": "Одиниці",
    "Value": "Вартість",
    "Flow": "Потік",
    "Flows": "Потоки",
    "Reciprocity": "Взаємність",
    "ratio": "коефіцієнт",
    "minimum": "мінімум",
    "met": "виконано",
    "not met": "не виконано",
    "Fund": "Фонд",
    "Fund balance": "Баланс фонду",
    "Balances": "Баланси",
    "Party": "Сторона",
    "Country": "Країна",
    "Balance": "Баланс",
    "Net by country": "Сальдо за країнами",
    "Deliveries per month": "Поставки за місяцями",
    "Month": "Місяць",
    "Deliveries per month by flow and category": "Поставки за місяцями: потоки й категорії",
    "Deliveries per month by category": "Поставки за місяцями й категоріями",
    "Net position over time": "Чиста позиція в часі",
    "Balances over time": "Сальдо сторін у часі",
    "Other parties": "Інші сторони",
    "the largest; the other parties summed": "найбільші; решта сторін разом",
    "Payments": "Платежі",
    "Payer": "Платник",
    "Payee": "Отримувач",
    "Amount": "Сума",
    "Date": "Дата",
    "Settlement proposal": "Пропозиція розрахунку",
    "No payment is needed.": "Платежі не потрібні.",
    "as of": "станом на",
    "Latest signed checkpoint": "Остання підписана контрольна точка",
    "Verifier key": "Ключ перевірки",
    "Inclusion proof": "Доказ включення",
    "Leaf index": "Індекс листка",
    "Prove and verify": "Довести й перевірити",
    "Tree size": "Розмір дерева",
    "Findings": "Висновки",
    "Product": "Виріб",
    "Part": "Деталь",
    "Ruleset": "Набір правил",
    "Rule": "Правило",
    "Citation": "Посилання",
    "Severity": "Суворість",
    "Message": "Повідомлення",
    "Filter": "Фільтр",
    "all": "усі",
    "block": "блокує",
    "warn": "попередження",
    "License": "Ліцензія",
    "Exporter": "Експортер",
    "End user": "Кінцевий користувач",
    "Valid": "Чинна",
    "Quantity drawn": "Використано кількості",
    "Value drawn": "Використано вартості",
    "Capacity a month": "Потужність на місяць",
    "Orders": "Замовлення",
    "Acceptance rate": "Частка прийнятих",
    "Products": "Вироби",
    "Lot": "Партія",
    "Serial look-up": "Пошук за серійним номером",
    "Serial": "Серійний номер",
    "Find": "Знайти",
    "Shipment": "Відвантаження",
    "Inspection": "Інспекція",
    "Order": "Замовлення",
    "Upload a deal pack": "Завантажити пакет угоди",
    "Validate only": "Лише перевірити",
    "Upload": "Завантажити",
    "Imported": "Імпортовано",
    "Nothing was imported; fix these rows:": "Нічого не імпортовано; виправте ці рядки:",
    "File": "Файл",
    "Row": "Рядок",
    "Column": "Стовпець",
    "Not found": "Не знайдено",
    "Log in to see this page.": "Увійдіть, щоб побачити цю сторінку.",
    "Your role may not see this page.": "Ваша роль не може бачити цю сторінку.",
    "Nothing here that you may see.": "Тут немає нічого, що ви можете бачити.",
    "Figures withheld in the public view: manufacturer names, serials, unit prices.":
        "У публічному перегляді приховано: назви виробників, серійні номери, ціни за одиницю.",
    "Next page": "Наступна сторінка",
    "Chart data": "Дані діаграми",
    "Language": "Мова",
    "none": "немає",
    "Verified: the leaf is in the tree with this root.":
        "Перевірено: листок є в дереві з цим коренем.",
    "Verification FAILED.": "Перевірку НЕ пройдено.",
    "Signature": "Підпис",
    "Verified in this browser with the key shown.":
        "Перевірено в цьому браузері показаним ключем.",
    "Consistency with an earlier size": "Узгодженість із попереднім розміром",
    "The log only grows: a tree of an earlier size is the start of the tree signed above.":
        "Журнал лише зростає: дерево попереднього розміру є початком дерева, підписаного "
        "вище.",
    "Verified: the earlier signed checkpoint is the start of the latest one.":
        "Перевірено: попередня підписана контрольна точка є початком останньої.",
    "Verified: the tree of that size is the start of the latest one (no checkpoint was "
    "signed at that size; its root is the one the proof gives).":
        "Перевірено: дерево цього розміру є початком останнього (на цьому розмірі "
        "контрольну точку не підписували; його корінь узято з доказу).",
    "The earlier checkpoint is not signed by the key shown.":
        "Попередню контрольну точку не підписано показаним ключем.",
    "Earlier tree size": "Попередній розмір дерева",
    "Form refused": "Форму відхилено",
    "This form did not come from this site or has expired: nothing was changed. Reload "
    "the page and send it again.":
        "Ця форма надійшла не з цього сайту або застаріла: нічого не змінено. Оновіть "
        "сторінку й надішліть її ще раз.",
}


def translate(text: str, lang: str) -> str:
    """`text` in `lang` (English when there is no translation)."""
    return UK.get(text, text) if lang == "uk" else text


class Formats:
    """Babel formatting bound to one locale. Whole numbers and amounts (most of a page's
    figures) are written from the locale's own symbols — its group separator, decimal
    sign and minus sign, in groups of three as both locales group — without a Babel
    pattern parse per figure (a large agreement page prints over a thousand);
    tests/web/test_formats.py checks them against Babel's `format_decimal`."""

    def __init__(self, lang: str) -> None:
        assert lang in LANGUAGES, f"language {lang!r} is not one of {LANGUAGES}"
        self.lang = lang
        self.locale = LOCALES[lang]
        self._group, self._decimal, self._minus = SYMBOLS[lang]

    def _whole(self, value: int) -> str:
        grouped = f"{abs(value):,}".replace(",", self._group)
        return self._minus + grouped if value < 0 else grouped

    def number(self, value: int | Decimal) -> str:
        if isinstance(value, int):
            return self._whole(value)
        return str(format_decimal(value, locale=self.locale))

    def money(self, minor: int, currency: str) -> str:
        """Minor units as the locale writes an amount, with the currency code."""
        digits = minor_digits(currency)
        if not digits:
            return f"{self._whole(minor)} {currency}"
        whole, part = divmod(abs(minor), 10 ** digits)
        text = f"{whole:,}".replace(",", self._group) + f"{self._decimal}{part:0{digits}d}"
        return f"{self._minus if minor < 0 else ''}{text} {currency}"

    def ratio(self, value: Decimal) -> str:
        return str(format_decimal(value, format="0.0000", locale=self.locale))

    def percent(self, value: Decimal) -> str:
        return str(format_percent(value, format="#,##0.0%", locale=self.locale))

    def date(self, value: dt.date) -> str:
        return str(format_date(value, format="medium", locale=self.locale))

    def month(self, value: dt.date) -> str:
        return str(format_date(value, format="LLL yyyy", locale=self.locale))
