"""What the bot says, in Persian (the default) and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "fa": {
        "help": (
            "دستورها:\n"
            "/new مبلغ عنوان — لینک پرداخت تازه، مبلغ به تومان (مثلاً: /new 150000 شال دست‌باف)\n"
            "/today — پرداخت‌های امروز\n"
            "/balance — مبلغ در انتظار تسویه و تاریخ واریز\n"
            "/links — لینک‌های اخیر\n"
            "/stop — قطع اتصال این گفتگو\n"
            "/help — همین راهنما"
        ),
        "welcome_unlinked": (
            "سلام! این ربات پی‌لینک است. برای اتصال این گفتگو به حساب فروشگاه، از تنظیمات پنل "
            "لینک اتصال تلگرام را بگیرید و آن را باز کنید."
        ),
        "linked": "این گفتگو به حساب «{name}» وصل شد. پرداخت‌ها همین‌جا اعلام می‌شوند.\n\n{help}",
        "token_expired": "این لینک اتصال منقضی شده است. از تنظیمات پنل یک لینک تازه بگیرید.",
        "token_unknown": (
            "این لینک اتصال معتبر نیست یا قبلاً استفاده شده است. از تنظیمات پنل یک لینک تازه بگیرید."
        ),
        "not_linked": "این گفتگو به حساب فروشگاهی وصل نیست. از تنظیمات پنل لینک اتصال تلگرام را بگیرید.",
        "unknown_command": "این دستور را نمی‌شناسم.\n\n{help}",
        "new_usage": "مبلغ (به تومان) و عنوان را بنویسید، مثلاً:\n/new 150000 شال دست‌باف",
        "new_limit": (
            "این گفتگو در این ساعت به سقف ساختن لینک رسیده است. "
            "ساعت بعد دوباره امتحان کنید یا از پنل لینک بسازید."
        ),
        "new_bad_amount": "مبلغ «{amount}» عدد نیست. مبلغ را به تومان بنویسید، مثلاً: /new 150000 شال",
        "new_no_title": "عنوان لینک را بعد از مبلغ بنویسید، مثلاً: /new {amount} شال دست‌باف",
        "new_too_small": "کمترین مبلغ {minimum} است.",
        "new_above_cap": "این مبلغ بیشتر از سقف هر پرداخت حساب شماست ({cap}).",
        "new_invalid": "لینک ساخته نشد: {reason}",
        "new_done": "لینک پرداخت «{title}» به مبلغ {amount}:\n{url}",
        "new_qr": "کد QR لینک «{title}»",
        "today": "امروز ({day}): {count} پرداخت، جمع {total}",
        "balance": "قابل واریز به شما (پس از کسر کارمزد): {total}",
        "balance_refunds": "کسر بازپرداخت‌ها: {amount}",
        "balance_owed": "بدهی از بازپرداخت‌های قبلی: {amount}",
        "balance_date": "تسویه بعدی: {date}",
        "today_capped": "فقط {count} پرداخت آخر شمرده شد؛ فهرست کامل در پنل است.",
        "balance_none": "مبلغی در انتظار تسویه نیست.",
        "links_none": "هنوز لینکی نساخته‌اید. با /new بسازید.",
        "links_line": "• {title} — {amount} — {paid} پرداخت\n{url}",
        "links_open": "مبلغ دلخواه",
        "stopped": "اتصال این گفتگو قطع شد. دیگر اعلانی اینجا فرستاده نمی‌شود.",
        "chat_taken": "این گفتگو به حساب فروشگاه دیگری وصل است. صاحب آن حساب باید اول /stop بفرستد.",
        "stop_not_yours": "فقط کسی که این گروه را وصل کرده (یا صاحب حساب از پنل) می‌تواند اتصال را قطع کند.",
        "paid": "پرداخت تازه: {amount} برای «{title}»\nشناسه: {id}{settle}",
        "paid_settle": "\nتاریخ واریز: {date}",
        "refund_succeeded": "بازپرداخت انجام شد: {amount} برای «{title}»\nشناسه: {id}",
        "refund_failed": (
            "بازپرداخت انجام نشد: {amount} برای «{title}»؛ این مبلغ به موجودی شما برگشت.\nشناسه: {id}"
        ),
    },
    "en": {
        "help": (
            "Commands:\n"
            "/new amount title — a new payment link, amount in toman (e.g. /new 150000 Handmade shawl)\n"
            "/today — today's payments\n"
            "/balance — what waits for settlement and when it is paid\n"
            "/links — your recent links\n"
            "/stop — unlink this chat\n"
            "/help — this help"
        ),
        "welcome_unlinked": (
            "Hello! This is the paylink bot. To link this chat to your shop's account, open the "
            "Telegram link from your panel's settings."
        ),
        "linked": "This chat is now linked to \u201c{name}\u201d. Payments will be announced here.\n\n{help}",
        "token_expired": "This link has expired. Get a new one from your panel's settings.",
        "token_unknown": (
            "This link is not valid or was already used. Get a new one from your panel's settings."
        ),
        "not_linked": "This chat is not linked to a shop. Get a Telegram link from your panel's settings.",
        "unknown_command": "I do not know that command.\n\n{help}",
        "new_usage": "Give the amount (in toman) and a title, e.g.:\n/new 150000 Handmade shawl",
        "new_limit": (
            "This chat reached its hourly limit of new links. "
            "Try again next hour, or make the link in your panel."
        ),
        "new_bad_amount": "\u201c{amount}\u201d is not an amount. Write it in toman, e.g. /new 150000 Shawl",
        "new_no_title": "Add a title after the amount, e.g. /new {amount} Handmade shawl",
        "new_too_small": "The smallest amount is {minimum}.",
        "new_above_cap": "That is above your account's limit per payment ({cap}).",
        "new_invalid": "The link was not made: {reason}",
        "new_done": "Payment link \u201c{title}\u201d for {amount}:\n{url}",
        "new_qr": "QR code of \u201c{title}\u201d",
        "today": "Today ({day}): {count} payments, {total} in all",
        "balance": "You will receive (after fees): {total}",
        "balance_refunds": "Refunds taken from it: {amount}",
        "balance_owed": "Owed from earlier refunds: {amount}",
        "balance_date": "Next settlement: {date}",
        "today_capped": "Only the latest {count} payments were counted; the panel lists them all.",
        "balance_none": "Nothing waits for settlement.",
        "links_none": "No links yet. Make one with /new.",
        "links_line": "• {title} — {amount} — {paid} paid\n{url}",
        "links_open": "any amount",
        "stopped": "This chat is unlinked. No more notices will come here.",
        "chat_taken": "This chat is linked to another shop. Its owner must send /stop first.",
        "stop_not_yours": "Only the member who linked this group (or the shop, in its panel) may unlink it.",
        "paid": "New payment: {amount} for \u201c{title}\u201d\nId: {id}{settle}",
        "paid_settle": "\nPaid out on: {date}",
        "refund_succeeded": "Refund done: {amount} for \u201c{title}\u201d\nId: {id}",
        "refund_failed": (
            "Refund failed: {amount} for \u201c{title}\u201d; the amount is back in your balance.\nId: {id}"
        ),
    },
}

# The command menu (setMyCommands): the default (Persian) and English.
COMMANDS: dict[str, list[dict[str, str]]] = {
    "": [
        {"command": "new", "description": "لینک پرداخت تازه: /new مبلغ عنوان"},
        {"command": "today", "description": "پرداخت‌های امروز"},
        {"command": "balance", "description": "در انتظار تسویه"},
        {"command": "links", "description": "لینک‌های اخیر"},
        {"command": "help", "description": "راهنما"},
        {"command": "stop", "description": "قطع اتصال این گفتگو"},
    ],
    "en": [
        {"command": "new", "description": "New payment link: /new amount title"},
        {"command": "today", "description": "Today's payments"},
        {"command": "balance", "description": "Waiting for settlement"},
        {"command": "links", "description": "Recent links"},
        {"command": "help", "description": "Help"},
        {"command": "stop", "description": "Unlink this chat"},
    ],
}


def say(lang: str, key: str, **values: object) -> str:
    """A reply in the chat's language; `{help}` is filled in wherever it appears."""
    texts = TEXTS["en" if lang == "en" else "fa"]
    return texts[key].format(help=texts["help"], **values)
