"""Strings of the buyer pages in Persian (default) and English.

Keys are namespaced: ``field.<name>``, ``error.<code>`` (field errors), ``reason.<code>.title`` /
``reason.<code>.message`` (error pages), ``status.<status>`` (receipt), ``failure.<reason>``
(why a payment failed). ``translate`` falls back to English, then to the key itself.
"""

from __future__ import annotations

import contextlib

__all__ = ["STRINGS", "translate"]

_FA: dict[str, str] = {
    # page chrome
    "lang.switch": "English",
    "lang.switch_code": "en",
    "page.powered_by": "پرداخت امن با پی‌لینک",
    "page.receiver": "دریافت‌کننده",
    # fields
    "field.name": "نام و نام خانوادگی",
    "field.phone": "شماره موبایل",
    "field.email": "ایمیل",
    "field.address": "نشانی",
    "field.note": "توضیحات",
    "field.amount": "مبلغ (تومان)",
    "field.quantity": "تعداد",
    "hint.phone": "مثلاً ۰۹۱۲۱۲۳۴۵۶۷",
    "hint.amount_range": "از {min} تا {max}",
    "hint.amount_min": "حداقل {min}",
    "hint.amount_max": "حداکثر {max}",
    "hint.quantity_max": "حداکثر {max} عدد",
    "hint.optional": "(اختیاری)",
    # buttons and labels
    "button.pay": "پرداخت",
    "button.continue": "ادامه به درگاه بانک",
    "button.retry": "تلاش دوباره",
    "button.print": "چاپ رسید",
    "label.amount": "مبلغ",
    "label.unit_price": "مبلغ هر عدد",
    "label.quantity": "تعداد",
    "label.merchant": "فروشنده",
    "label.title": "بابت",
    "label.tracking_code": "کد پیگیری",
    "label.card": "کارت",
    "label.paid_at": "زمان پرداخت",
    "label.expected_settlement": "واریز به فروشنده",
    "label.created_at": "زمان ثبت",
    "label.payment_id": "شناسه پرداخت",
    "label.status": "وضعیت",
    "label.reason": "علت",
    "form.errors_title": "لطفاً موارد زیر را اصلاح کنید:",
    "form.amount_open": "مبلغ را خودتان وارد کنید",
    # field error codes
    "error.required": "این بخش را پر کنید.",
    "error.invalid_phone": "شماره موبایل معتبر نیست؛ باید ۱۱ رقم باشد و با ۰۹ شروع شود.",
    "error.invalid_email": "نشانی ایمیل معتبر نیست.",
    "error.too_long": "متن واردشده بیش از حد طولانی است.",
    "error.too_small": "مقدار واردشده کمتر از حد مجاز است.",
    "error.too_large": "مقدار واردشده بیشتر از حد مجاز است.",
    "error.invalid_amount": "مبلغ معتبر نیست؛ یک عدد صحیح به تومان وارد کنید.",
    "error.invalid_quantity": "تعداد معتبر نیست.",
    "error.not_a_number": "فقط عدد وارد کنید.",
    "error.over_limit": "این مبلغ بیشتر از سقف مجاز پرداخت به این فروشنده است.",
    "error.invalid": "مقدار واردشده معتبر نیست.",
    # error pages
    "reason.not_found.title": "لینک پیدا نشد",
    "reason.not_found.message": "این لینک پرداخت وجود ندارد. نشانی را دوباره بررسی کنید.",
    "reason.inactive.title": "این لینک غیرفعال است",
    "reason.inactive.message": "فروشنده این لینک پرداخت را غیرفعال کرده است.",
    "reason.expired.title": "مهلت این لینک تمام شده است",
    "reason.expired.message": "مهلت پرداخت با این لینک به پایان رسیده است.",
    "reason.sold_out.title": "موجودی تمام شده است",
    "reason.sold_out.message": "ظرفیت این لینک پرداخت تکمیل شده است.",
    "reason.already_paid.title": "این صورت‌حساب پرداخت شده است",
    "reason.already_paid.message": "این صورت‌حساب قبلاً پرداخت شده و نیازی به پرداخت دوباره نیست.",
    "reason.no_gateway.title": "درگاه پرداخت در دسترس نیست",
    "reason.no_gateway.message": (
        "در حال حاضر هیچ درگاه پرداختی در دسترس نیست. مبلغی از حساب شما کسر نشده است؛ "
        "چند دقیقه دیگر دوباره تلاش کنید."
    ),
    "reason.return_unconfirmed.title": "پرداخت شما در حال تأیید است",
    "reason.return_unconfirmed.message": (
        "همین حالا نتوانستیم پرداخت را تأیید کنیم. اگر مبلغی از حساب شما کسر شده، ظرف چند دقیقه "
        "خودکار تأیید می‌شود یا بانک آن را برمی‌گرداند؛ نیازی به پرداخت دوباره نیست. "
        "یک دقیقه دیگر این صفحه را دوباره باز کنید."
    ),
    "reason.start_failed.title": "شروع پرداخت ممکن نشد",
    "reason.start_failed.message": (
        "مشکلی از سمت ما پیش آمد. مبلغی از حساب شما کسر نشده است؛ یک دقیقه دیگر دوباره تلاش کنید."
    ),
    "reason.unavailable.title": "این صفحه موقتاً در دسترس نیست",
    "reason.unavailable.message": "مشکلی از سمت ما پیش آمد. یک دقیقه دیگر دوباره تلاش کنید.",
    "reason.payment_not_found.title": "پرداخت پیدا نشد",
    "reason.payment_not_found.message": "پرداختی با این شناسه وجود ندارد.",
    "reason.bad_request.title": "درخواست نامعتبر",
    "reason.bad_request.message": "درخواست قابل پردازش نبود. دوباره تلاش کنید.",
    # receipt statuses
    # refunds: the payer's page of a transfer refund (issue 15)
    "refund.title": "بازپرداخت وجه",
    "refund.instructions": "شماره همان کارتی را که با آن پرداخت کردید وارد کنید تا مبلغ به حساب آن برگردد.",
    "refund.again": (
        "واریز قبلی به حساب این کارت انجام نشد (بانک حساب را نپذیرفت). "
        "اگر حساب کارت دوباره فعال است، شماره کارت را دوباره وارد کنید."
    ),
    "refund.card": "شماره کارت (۱۶ رقم)",
    "refund.submit": "دریافت بازپرداخت",
    "refund.pending": "کارت تأیید شد؛ مبلغ در حال واریز به حساب شماست.",
    "refund.succeeded": "مبلغ به حساب شما واریز شد.",
    "refund.failed": "بازپرداخت انجام نشد؛ با فروشنده تماس بگیرید.",
    "refund.expired": "مهلت این پیوند تمام شده است؛ از فروشنده بخواهید پیوند تازه بفرستد.",
    "refund.error.card_mismatch": "این کارت همان کارتی نیست که با آن پرداخت شده است.",
    "refund.error.card_refused": "بانک این شماره کارت را نپذیرفت.",
    "refund.error.account_inactive": "حساب این کارت فعال نیست.",
    "refund.error.inquiry_unavailable": "استعلام بانکی اکنون ممکن نیست؛ کمی بعد دوباره تلاش کنید.",
    "refund.error.cross_site": "این درخواست از صفحه‌ای دیگر فرستاده شده بود و پذیرفته نشد.",
    "refund.error.too_many": "کارت‌های زیادی امتحان شد. برای لینک تازه با فروشنده تماس بگیرید.",
    "status.refunded": "مبلغ بازپرداخت شد",
    "receipt.refunded": "بازپرداخت‌شده",
    "status.created": "در انتظار پرداخت",
    "status.redirected": "در حال بررسی پرداخت",
    "status.paid": "پرداخت موفق",
    "status.settled": "پرداخت موفق",
    "status.failed": "پرداخت ناموفق",
    "status.cancelled": "پرداخت لغو شد",
    "status.expired": "مهلت پرداخت تمام شد",
    "status.reversed": "مبلغ به حساب شما برگشت داده شد",
    "receipt.paid_message": "پرداخت شما با موفقیت انجام شد.",
    "receipt.pending_message": (
        "در حال بررسی پرداخت شما هستیم. اگر مبلغی کسر شده باشد، تا چند دقیقه دیگر وضعیت مشخص می‌شود."
    ),
    "receipt.failed_message": "پرداخت انجام نشد.",
    "receipt.reversed_message": "اگر مبلغی از حساب شما کسر شده بود، به حساب شما برگشت داده شده است.",
    "receipt.not_charged": "اگر مبلغی کسر شده باشد، طی ۷۲ ساعت به حساب شما برمی‌گردد.",
    "receipt.refresh": "به‌روزرسانی وضعیت",
    # failure reasons
    "failure.cancelled": "پرداخت را لغو کردید.",
    "failure.declined": "بانک پرداخت را نپذیرفت.",
    "failure.amount_mismatch": "مبلغ پرداخت‌شده با مبلغ درخواست مطابقت نداشت.",
    "failure.gateway_error": "درگاه پرداخت با خطا روبه‌رو شد.",
    "failure.not_verified": "پرداخت از سوی بانک تأیید نشد.",
    "failure.expired": "مهلت پرداخت به پایان رسید.",
    "failure.unknown": "پرداخت انجام نشد.",
    "failure.abandoned": "پرداخت در مهلت درگاه تکمیل نشد. مبلغی از حساب شما کسر نشده است.",
    "failure.no_return": "از درگاه بازنگشتید؛ بانک هر مبلغ کسرشده را به حساب شما بازمی‌گرداند.",
    "failure.reversed_by_gateway": "بانک مبلغ را به حساب شما بازگرداند.",
    "failure.sold_out": "موجودی در همین فاصله تمام شد؛ مبلغ به حساب شما بازگردانده شد.",
    "failure.no_gateway": "هیچ درگاه پرداختی در دسترس نبود. مبلغی کسر نشده است.",
    "failure.amount_mismatch_refund_due": (
        "مبلغ پرداخت‌شده با مبلغ درخواست یکی نبود؛ به حساب شما بازگردانده می‌شود."
    ),
    "failure.sold_out_refund_due": "موجودی در همین فاصله تمام شد؛ مبلغ به حساب شما بازگردانده می‌شود.",
    "reason.payment_in_progress.title": "پرداخت دیگری در جریان است",
    "reason.payment_in_progress.message": (
        "آخرین موجودی این لینک در حال پرداخت توسط خریدار دیگری است. چند دقیقه دیگر دوباره تلاش کنید."
    ),
    "error.over_daily_limit": "این پرداخت از سقف دریافت روزانه فروشنده بیشتر است.",
    "reason.too_many_open_payments.title": "یک پرداخت نیمه‌تمام دارید",
    "reason.too_many_open_payments.message": (
        "پرداخت‌هایی که نزد این فروشنده آغاز کرده‌اید هنوز باز است. آن‌ها را در صفحهٔ بانک تمام یا لغو کنید، "
        "یا چند دقیقه دیگر دوباره تلاش کنید. این بار چیزی ثبت نشد."
    ),
    "reason.cross_site.title": "این فرم از سایت دیگری فرستاده شد",
    "reason.cross_site.message": (
        "برای امنیت شما، پرداختی که از صفحهٔ سایت دیگری آغاز شود پذیرفته نمی‌شود و چیزی ثبت نشد. "
        "صفحهٔ پرداخت را باز کنید و فرم را از همان‌جا بفرستید."
    ),
    # post redirect
    "redirect.title": "در حال انتقال به درگاه بانک",
    "redirect.message": "در حال انتقال به درگاه پرداخت بانک هستید…",
    "redirect.noscript": "اگر به‌صورت خودکار منتقل نشدید، دکمه زیر را بزنید.",
    # coupons
    "field.coupon": "کد تخفیف",
    "button.apply": "اعمال کد تخفیف",
    "label.subtotal": "مبلغ",
    "label.discount": "تخفیف ({code})",
    "label.total": "مبلغ قابل پرداخت",
    "error.coupon_invalid": "این کد تخفیف معتبر نیست.",
    "error.coupon_tries": "کدهای زیادی امتحان شد؛ یک ساعت دیگر دوباره تلاش کنید.",
    "error.coupon_expired": "مهلت استفاده از این کد تخفیف تمام شده است.",
    "error.coupon_used_up": "ظرفیت استفاده از این کد تخفیف تکمیل شده است.",
    "error.coupon_not_for_invoice": "کد تخفیف برای صورتحساب پذیرفته نمی‌شود؛ مبلغ آن کامل پرداخت می‌شود.",
    # invoice messages to the payer (SMS and email)
    "notify.invoice.subject": "صورت‌حساب {merchant}: {title}",
    "notify.invoice.text": "{merchant} برای «{title}» صورت‌حسابی به مبلغ {amount} برای شما فرستاده است.",
    "notify.due": "مهلت پرداخت: {due}.",
    "notify.reminder_before.subject": "یادآوری: مهلت پرداخت صورت‌حساب {merchant} فرداست",
    "notify.reminder_before.text": "مهلت پرداخت صورت‌حساب «{title}» ({amount}) فردا، {due}، است.",
    "notify.reminder_after.subject": "یادآوری: صورت‌حساب {merchant} هنوز پرداخت نشده است",
    "notify.reminder_after.text": "مهلت پرداخت صورت‌حساب «{title}» ({amount}) در {due} گذشته است.",
    # invoices in installments (page and messages)
    "installments.title": "برنامه اقساط",
    "installments.receipt_label": "شماره قسط",
    "installments.total": "مبلغ کل صورت‌حساب",
    "installments.remaining": "باقی‌مانده",
    "installments.number": "قسط {number}",
    "installments.due": "سررسید {date}",
    "installments.paid_on": "پرداخت‌شده در {date}",
    "installments.status.pending": "در انتظار",
    "installments.status.paid": "پرداخت‌شده",
    "installments.status.overdue": "سررسید گذشته",
    "installments.next": "قسط {number} از {count}",
    "installments.pay": "پرداخت قسط {number}",
    "notify.installments.text": (
        "{merchant} برای «{title}» صورت‌حسابی به مبلغ {amount} در {count} قسط برای شما فرستاده است:"
    ),
    "notify.installments.line": "قسط {number}: {amount}، سررسید {due}",
    "notify.installment_before.subject": "یادآوری: قسط {number} صورت‌حساب {merchant} فردا سررسید می‌شود",
    "notify.installment_before.text": (
        "سررسید قسط {number} از {count} صورت‌حساب «{title}» ({amount}) فردا، {due}، است."
    ),
    "notify.installment_after.subject": "یادآوری: قسط {number} صورت‌حساب {merchant} هنوز پرداخت نشده است",
    "notify.installment_after.text": (
        "سررسید قسط {number} از {count} صورت‌حساب «{title}» ({amount}) در {due} گذشته است."
    ),
    # personal page /u/{username}
    "personal.title": "پرداخت به {name}",
    "reason.merchant_not_found.title": "صفحه پیدا نشد",
    "reason.merchant_not_found.message": (
        "فروشنده‌ای با این نام کاربری وجود ندارد. نشانی را دوباره بررسی کنید."
    ),
}

_EN: dict[str, str] = {
    "lang.switch": "فارسی",
    "lang.switch_code": "fa",
    "page.powered_by": "Secure payment by paylink",
    "page.receiver": "Paying",
    "field.name": "Full name",
    "field.phone": "Mobile number",
    "field.email": "Email",
    "field.address": "Address",
    "field.note": "Note",
    "field.amount": "Amount (Toman)",
    "field.quantity": "Quantity",
    "hint.phone": "e.g. 09121234567",
    "hint.amount_range": "From {min} to {max}",
    "hint.amount_min": "At least {min}",
    "hint.amount_max": "At most {max}",
    "hint.quantity_max": "Up to {max}",
    "hint.optional": "(optional)",
    "button.pay": "Pay",
    "button.continue": "Continue to the bank",
    "button.retry": "Try again",
    "button.print": "Print receipt",
    "label.amount": "Amount",
    "label.unit_price": "Price each",
    "label.quantity": "Quantity",
    "label.merchant": "Merchant",
    "label.title": "For",
    "label.tracking_code": "Tracking code",
    "label.card": "Card",
    "label.paid_at": "Paid at",
    "label.expected_settlement": "Paid out to the merchant",
    "label.created_at": "Created at",
    "label.payment_id": "Payment ID",
    "label.status": "Status",
    "label.reason": "Reason",
    "form.errors_title": "Please correct the following:",
    "form.amount_open": "Enter the amount you want to pay",
    "error.required": "This field is required.",
    "error.invalid_phone": "Enter a valid mobile number: 11 digits starting with 09.",
    "error.invalid_email": "Enter a valid email address.",
    "error.too_long": "This is too long.",
    "error.too_small": "This is below the minimum.",
    "error.too_large": "This is above the maximum.",
    "error.invalid_amount": "Enter a whole amount in Toman.",
    "error.invalid_quantity": "Enter a valid quantity.",
    "error.not_a_number": "Enter a number.",
    "error.over_limit": "This amount is above what this merchant can receive in one payment.",
    "error.invalid": "This value is not valid.",
    "reason.not_found.title": "Link not found",
    "reason.not_found.message": "This payment link does not exist. Please check the address.",
    "reason.inactive.title": "This link is inactive",
    "reason.inactive.message": "The merchant has turned this payment link off.",
    "reason.expired.title": "This link has expired",
    "reason.expired.message": "The time to pay with this link has ended.",
    "reason.sold_out.title": "Sold out",
    "reason.sold_out.message": "This payment link has reached its limit.",
    "reason.already_paid.title": "This invoice is already paid",
    "reason.already_paid.message": "This invoice has been paid; there is nothing more to pay.",
    "reason.no_gateway.title": "Payment is unavailable right now",
    "reason.no_gateway.message": (
        "No payment gateway is available right now. Nothing was charged; please try again in a few minutes."
    ),
    "reason.return_unconfirmed.title": "Your payment is being confirmed",
    "reason.return_unconfirmed.message": (
        "We could not confirm your payment just now. If money left your account, it is confirmed "
        "within a few minutes or returned by your bank: do not pay again. Try this page again in a minute."
    ),
    "reason.start_failed.title": "The payment could not start",
    "reason.start_failed.message": (
        "Something went wrong on our side. Nothing was charged; please try again in a minute."
    ),
    "reason.unavailable.title": "This page is unavailable for a moment",
    "reason.unavailable.message": "Something went wrong on our side. Please try again in a minute.",
    "reason.payment_not_found.title": "Payment not found",
    "reason.payment_not_found.message": "There is no payment with this ID.",
    "reason.bad_request.title": "Bad request",
    "reason.bad_request.message": "The request could not be processed. Please try again.",
    # refunds: the payer's page of a transfer refund (issue 15)
    "refund.title": "Refund",
    "refund.instructions": "Enter the number of the card you paid with; the money goes back to its account.",
    "refund.again": (
        "The last transfer to this card's account did not go through (the bank refused the account). "
        "If the account is active again, enter the card once more."
    ),
    "refund.card": "Card number (16 digits)",
    "refund.submit": "Receive the refund",
    "refund.pending": "Card confirmed; the money is on its way to your account.",
    "refund.succeeded": "The money has been paid to your account.",
    "refund.failed": "The refund did not go through; please contact the merchant.",
    "refund.expired": "This link has expired; ask the merchant to send a new one.",
    "refund.error.card_mismatch": "This is not the card the payment was made with.",
    "refund.error.card_refused": "The bank did not accept this card number.",
    "refund.error.account_inactive": "This card's account is not active.",
    "refund.error.inquiry_unavailable": "The bank inquiry is not available now; please try again shortly.",
    "refund.error.cross_site": "This request came from another page and was refused.",
    "refund.error.too_many": "Too many cards were tried. Ask the shop for a new link.",
    "status.refunded": "Refunded",
    "receipt.refunded": "Refunded",
    "status.created": "Awaiting payment",
    "status.redirected": "Checking your payment",
    "status.paid": "Payment successful",
    "status.settled": "Payment successful",
    "status.failed": "Payment failed",
    "status.cancelled": "Payment cancelled",
    "status.expired": "Payment expired",
    "status.reversed": "Payment reversed",
    "receipt.paid_message": "Your payment was successful.",
    "receipt.pending_message": (
        "We are checking your payment. If money was taken from your account, "
        "the status will be clear in a few minutes."
    ),
    "receipt.failed_message": "The payment did not go through.",
    "receipt.reversed_message": "Any amount taken from your account has been returned.",
    "receipt.not_charged": "If any amount was taken from your account, it is returned within 72 hours.",
    "receipt.refresh": "Refresh status",
    "failure.cancelled": "You cancelled the payment.",
    "failure.declined": "The bank declined the payment.",
    "failure.amount_mismatch": "The amount paid did not match the amount requested.",
    "failure.gateway_error": "The payment gateway ran into an error.",
    "failure.not_verified": "The bank did not confirm the payment.",
    "failure.expired": "The time to pay ran out.",
    "failure.unknown": "The payment did not go through.",
    "failure.abandoned": "The payment was not completed in time at the gateway. Nothing was charged.",
    "failure.no_return": "You did not come back from the gateway; the bank returns any amount taken.",
    "failure.reversed_by_gateway": "The bank returned the amount to your account.",
    "failure.sold_out": "It sold out meanwhile; the amount was returned to your account.",
    "failure.no_gateway": "No payment gateway was available. Nothing was charged.",
    "failure.amount_mismatch_refund_due": (
        "The amount paid did not match the amount asked; it will be refunded."
    ),
    "failure.sold_out_refund_due": "It sold out meanwhile; the amount will be refunded to you.",
    "reason.payment_in_progress.title": "Another payment is in progress",
    "reason.payment_in_progress.message": (
        "The last unit of this link is being paid by another buyer. Please try again in a few minutes."
    ),
    "error.over_daily_limit": "This payment is above the merchant's daily limit.",
    "reason.too_many_open_payments.title": "You have an unfinished payment",
    "reason.too_many_open_payments.message": (
        "Payments you started with this merchant are still open. Finish or cancel them on the bank's "
        "page, or try again in a few minutes. Nothing was recorded this time."
    ),
    "reason.cross_site.title": "This form was sent from another site",
    "reason.cross_site.message": (
        "For your safety, a payment started from another site's page is not accepted, and nothing was "
        "recorded. Open the payment page and send the form from there."
    ),
    "redirect.title": "Redirecting to the bank",
    "redirect.message": "Taking you to the bank's payment page…",
    "redirect.noscript": "If nothing happens, press the button below.",
    "field.coupon": "Coupon code",
    "button.apply": "Apply coupon",
    "label.subtotal": "Amount",
    "label.discount": "Discount ({code})",
    "label.total": "To pay",
    "error.coupon_invalid": "This coupon code is not valid.",
    "error.coupon_tries": "Too many codes were tried; please try again in an hour.",
    "error.coupon_expired": "This coupon has expired.",
    "error.coupon_used_up": "This coupon has been used up.",
    "error.coupon_not_for_invoice": "Coupons do not apply to an invoice: it is paid in full.",
    "notify.invoice.subject": "Invoice from {merchant}: {title}",
    "notify.invoice.text": "{merchant} sent you an invoice for “{title}”: {amount}.",
    "notify.due": "Due on {due}.",
    "notify.reminder_before.subject": "Reminder: the invoice from {merchant} is due tomorrow",
    "notify.reminder_before.text": "The invoice “{title}” ({amount}) is due tomorrow, {due}.",
    "notify.reminder_after.subject": "Reminder: the invoice from {merchant} is not paid yet",
    "notify.reminder_after.text": "The invoice “{title}” ({amount}) was due on {due}.",
    # invoices in installments (page and messages)
    "installments.title": "Installments",
    "installments.receipt_label": "Installment",
    "installments.total": "Invoice total",
    "installments.remaining": "Left to pay",
    "installments.number": "Installment {number}",
    "installments.due": "Due {date}",
    "installments.paid_on": "Paid on {date}",
    "installments.status.pending": "Pending",
    "installments.status.paid": "Paid",
    "installments.status.overdue": "Overdue",
    "installments.next": "Installment {number} of {count}",
    "installments.pay": "Pay installment {number}",
    "notify.installments.text": (
        "{merchant} sent you an invoice for “{title}”: {amount} in {count} installments:"
    ),
    "notify.installments.line": "Installment {number}: {amount}, due {due}",
    "notify.installment_before.subject": (
        "Reminder: installment {number} of the invoice from {merchant} is due tomorrow"
    ),
    "notify.installment_before.text": (
        "Installment {number} of {count} of “{title}” ({amount}) is due tomorrow, {due}."
    ),
    "notify.installment_after.subject": (
        "Reminder: installment {number} of the invoice from {merchant} is not paid yet"
    ),
    "notify.installment_after.text": (
        "Installment {number} of {count} of “{title}” ({amount}) was due on {due}."
    ),
    "personal.title": "Pay {name}",
    "reason.merchant_not_found.title": "Page not found",
    "reason.merchant_not_found.message": "There is no merchant with this username. Please check the address.",
}

STRINGS: dict[str, dict[str, str]] = {"fa": _FA, "en": _EN}


def translate(key: str, lang: str, **fmt: object) -> str:
    """The string for ``key`` in ``lang`` ("fa" unless "en"), formatted with ``fmt``.

    Falls back to the English string, then to the key itself, so a missing string never breaks
    a page.
    """
    table = STRINGS["en" if lang == "en" else "fa"]
    text = table.get(key) or _EN.get(key) or key
    if fmt:
        with contextlib.suppress(KeyError, IndexError, ValueError):
            text = text.format(**fmt)
    return text
