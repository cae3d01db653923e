"""Writes the sample replies in this folder (`python tests/mail_samples/make_samples.py`).

Each sample is an RFC 5322 message as a platform might send it: the wording is our own, written
after the platforms' published help pages (docs/mailbox.md says which page, and which samples are
guesses). The file name says the platform and the outcome a person reads in it; the last part is
the encoding or shape under test. Listing URLs are those the tests' cases report.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

HERE = Path(__file__).parent


def _id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


ALI = "https://www.aliexpress.com/item/1005001234567890.html"
AMZ = "https://www.amazon.com/dp/B0C1234567"
ETSY = "https://www.etsy.com/listing/1234567890"
EBAY = "https://www.ebay.com/itm/234567890123"


def plain(
    sender: str, subject: str, body: str, *, charset: str = "utf-8", cte: str | None = None
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "brand@acme.example", subject
    message["Message-ID"] = f"<{_id(subject)}@{sender.split('@')[1]}>"
    if charset == "utf-8":
        message.set_content(body, charset="utf-8", cte=cte or "quoted-printable")
    else:
        message.set_content(body.encode(charset), "text", "plain", cte=cte or "base64")
        message.set_param("charset", charset)
    return message.as_bytes()


def alternative(
    sender: str, subject: str, text: str, html: str, *, charset: str = "utf-8"
) -> bytes:
    outer = MIMEMultipart("alternative")
    outer["From"], outer["To"], outer["Subject"] = sender, "brand@acme.example", subject
    outer["Message-ID"] = f"<alt.{_id(subject)}@{sender.split('@')[1]}>"
    outer.attach(MIMEText(text, "plain", charset))
    outer.attach(MIMEText(html, "html", charset))
    outer.set_boundary(f"=_{_id(text)}")  # the same bytes every time
    return outer.as_bytes()


def html_only(sender: str, subject: str, html: str, *, charset: str = "utf-8") -> bytes:
    part = MIMEText(html, "html", charset)
    part["From"], part["To"], part["Subject"] = sender, "brand@acme.example", subject
    part["Message-ID"] = f"<html.{_id(subject)}@{sender.split('@')[1]}>"
    return part.as_bytes()


def forwarded(inner: str, *, by: str = "ops@acme.example") -> bytes:
    body = "FYI, see below.\n\n---------- Forwarded message ---------\n" + inner
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = (
        by,
        "takedowns@acme.example",
        "Fwd: platform reply",
    )
    message["Message-ID"] = f"<fwd.{_id(inner)}@acme.example>"
    message.set_content(body, charset="utf-8", cte="quoted-printable")
    return message.as_bytes()


SAMPLES: dict[str, bytes] = {
    # --- Alibaba IPP ------------------------------------------------------------------------------
    "alibaba-removed-gb2312.eml": plain(
        "ipp-notice@alibaba-inc.com",
        "知识产权投诉处理结果通知",
        f"尊敬的权利人：\n\n您提交的知识产权投诉（投诉单号 IPP20240611007）经审核，投诉已成立，"
        f"被投诉商品链接已删除。\n\n{ALI}\n\n阿里巴巴知识产权保护平台\n",
        charset="gb2312",
    ),
    "alibaba-rejected-en-alternative.eml": alternative(
        "ipp-notice@alibaba-inc.com",
        "Result of your IPR complaint IPP20240611008",
        f"Dear rights holder,\n\nThe party complained of filed a counter notice. After review, the "
        f"counter notice has been accepted and your complaint is not established. The product link "
        f"below has been reinstated.\n\n{ALI}\n\nAlibaba IP Protection Platform\n",
        f"<p>Dear rights holder,</p><p>The party complained of filed a counter notice. After review, "
        f"the counter notice has been accepted and your complaint is not established. The product "
        f'link below has been reinstated.</p><p><a href="{ALI}">{ALI}</a></p>',
    ),
    "alibaba-needs-info-gbk-html.eml": html_only(
        "ipp-notice@alibaba-inc.com",
        "请补充投诉材料",
        f"<html><body><p>尊敬的用户：</p><p>您的投诉（投诉单号 IPP20240611009）缺少权利证明，请补充证明材料后重新提交。</p>"
        f"<p>{ALI}</p></body></html>",
        charset="gbk",
    ),
    "alibaba-received-en.eml": plain(
        "ipp-notice@alibaba-inc.com",
        "Your complaint has been submitted",
        "Dear rights holder,\n\nYour complaint IPP20240611010 has been submitted and is being "
        "processed. We will get back to you within 7 working days.\n",
    ),
    # --- Amazon -----------------------------------------------------------------------------------
    "amazon-removed-en.eml": plain(
        "notice-dispute@amazon.com",
        "Your report of infringement",
        f"Hello,\n\nThank you for your report. We removed the listing you reported:\n\n"
        f"ASIN: B0C1234567\n{AMZ}\n\nWe have taken down the content and notified the seller.\n",
    ),
    "amazon-rejected-en-alternative.eml": alternative(
        "notice-dispute@amazon.com",
        "Re: Report of infringement",
        f"Hello,\n\nWe reviewed your report of {AMZ}. We did not find sufficient information to "
        "confirm that the reported content infringes your trademark, so we are unable to take "
        "action at this time.\n",
        f"<p>Hello,</p><p>We reviewed your report of {AMZ}. We did not find sufficient information "
        "to confirm that the reported content infringes your trademark, so we are unable to take "
        "action at this time.</p>",
    ),
    "amazon-needs-info-es-base64.eml": plain(
        "notice-dispute@amazon.es",
        "Su notificación de infracción",
        f"Hola:\n\nHemos recibido su notificación sobre {AMZ}. Para continuar, necesitamos la "
        "siguiente información: el número de registro de la marca y la jurisdicción.\n",
        cte="base64",
    ),
    "amazon-removed-pt.eml": plain(
        "notice-dispute@amazon.com.br",
        "Sua denúncia de violação",
        f"Olá,\n\nObrigado por entrar em contato com a Amazon. Removemos o conteúdo denunciado:\n{AMZ}\n",
    ),
    # --- Etsy -------------------------------------------------------------------------------------
    "etsy-removed-en.eml": plain(
        "legal@etsy.com",
        "Etsy notice of infringement",
        f"Hi,\n\nThanks for your notice. We have disabled access to the following listing, and the "
        f"seller has been notified:\n\n{ETSY}\n\nEtsy Legal Response and Enforcement\n",
    ),
    "etsy-rejected-en-html.eml": html_only(
        "legal@etsy.com",
        "Your notice of infringement",
        f"<p>Hi,</p><p>We are unable to process your notice because it did not contain all of the "
        f"required information listed in our Intellectual Property Policy.</p><p>{ETSY}</p>",
    ),
    "etsy-needs-info-en.eml": plain(
        "legal@etsy.com",
        "More information needed",
        "Hi,\n\nTo process an infringement notice about listing content we need each listing's "
        "URL, not the shop name. Please submit a new notice that includes the listing URLs.\n",
    ),
    # --- eBay VeRO --------------------------------------------------------------------------------
    "ebay-removed-en-forwarded.eml": forwarded(
        "From: VeRO <vero@ebay.com>\nSubject: Your VeRO report\n\nHello,\n\nThank you for your "
        f"Notice of Claimed Infringement. The following listings have been ended:\n\n{EBAY}\n"
    ),
    "ebay-rejected-en.eml": plain(
        "vero@ebay.com",
        "Your VeRO report",
        f"Hello,\n\nWe were unable to remove the item below because it was no longer active when "
        f"we reviewed your notice:\n\n{EBAY}\n",
    ),
    "ebay-needs-info-en.eml": plain(
        "vero@ebay.com",
        "Your NOCI could not be processed",
        "Hello,\n\nYour Notice of Claimed Infringement is incomplete: it has missing item numbers. "
        "Please send a new NOCI with the item numbers of the listings you report.\n",
    ),
    "ebay-received-es.eml": plain(
        "vero@ebay.es",
        "Su notificación VeRO",
        "Hola:\n\nHemos recibido su notificación y la revisaremos en breve.\n",
    ),
    # --- generic ----------------------------------------------------------------------------------
    "generic-removed-en.eml": plain(
        "abuse@shop.example",
        "Re: takedown notice",
        "Hello,\n\nThe listings you reported have been removed.\n\nOn Mon, 3 Jun 2024 Acme wrote:\n"
        "> Please remove the following listings, which we did not remove ourselves.\n",
    ),
    "generic-unknown-en.eml": plain(
        "abuse@shop.example",
        "Re: takedown notice",
        "Hello,\n\nCould you tell us which of your products these are?\n",
    ),
}

OUTCOMES = ("removed", "rejected", "needs_info", "received", "unknown")


def expected(name: str) -> str:
    """The outcome a person reads in a sample, from its file name."""
    return next(o for o in OUTCOMES if f"-{o.replace('_', '-')}" in name)


def main() -> None:
    for name, raw in SAMPLES.items():
        (HERE / name).write_bytes(raw)


if __name__ == "__main__":
    main()
