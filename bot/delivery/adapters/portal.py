"""The guided `portal` channel, for platforms whose IP-protection channel is a web form.

The bot cannot file these itself; it is honest about that. `submit` hands the notice back as
"awaiting a person": the delivery layer posts it in the case's thread, ready to paste field by
field, with the portal's link and buttons for the reporter to confirm with the complaint number.
"""

from __future__ import annotations

from typing import ClassVar

from typing_extensions import override

from bot.delivery.adapters.base import Adapter, AdapterOptions, OutgoingNotice, Receipt

# Where each platform's rights owners file complaints (the public entry pages of their programmes).
PORTAL_LINKS: dict[str, tuple[str, str]] = {
    "taobao": ("Alibaba IP Protection Platform", "https://ipp.alibabagroup.com/"),
    "tmall": ("Alibaba IP Protection Platform", "https://ipp.alibabagroup.com/"),
    "1688": ("Alibaba IP Protection Platform", "https://ipp.alibabagroup.com/"),
    "aliexpress": ("Alibaba IP Protection Platform", "https://ipp.alibabagroup.com/"),
    "alibaba": ("Alibaba IP Protection Platform", "https://ipp.alibabagroup.com/"),
    "lazada": ("Alibaba IP Protection Platform", "https://ipp.alibabagroup.com/"),
    "amazon": ("Amazon Report Infringement form", "https://www.amazon.com/report/infringement"),
    "ebay": (
        "eBay VeRO programme",
        "https://www.ebay.com/sellercenter/ebay-for-business/verified-rights-owner-program",
    ),
    "etsy": ("Etsy Intellectual Property Infringement form", "https://www.etsy.com/ipreport"),
    "walmart": ("Walmart IP claim form", "https://secure.walmart.com/reportfraud/ip"),
    "shopee": ("Shopee Brand IP Portal", "https://brandipportal.shopee.com/"),
    "temu": ("Temu Intellectual Property Portal", "https://www.temu.com/ip-portal.html"),
    "shein": (
        "SHEIN Intellectual Property Protection",
        "https://www.shein.com/IP-Protection-a-1148.html",
    ),
    "facebook": (
        "Meta Intellectual Property Reporting",
        "https://www.facebook.com/help/contact/634636770043106",
    ),
    "mercadolibre": (
        "Mercado Libre Brand Protection Program",
        "https://www.mercadolibre.com/brandprotection",
    ),
}


class PortalOptions(AdapterOptions):
    url: str | None = (
        None  # a different form than the platform's public one (e.g. a brand's own portal)
    )
    name: str | None = None


class PortalAdapter(Adapter):
    name = "portal"
    # Web forms take a list of URLs per complaint; 50 keeps each guide one readable message
    # (every field whole, within Slack's block limits). Larger cases get several guides.
    max_batch = 50
    idempotent = True  # nothing leaves the bot: resending only re-posts the guide
    Options: ClassVar[type[AdapterOptions]] = PortalOptions

    def link(self) -> tuple[str, str]:
        """The portal's name and address for this platform."""
        assert isinstance(self.options, PortalOptions)
        default_name, default_url = PORTAL_LINKS.get(
            self.platform, (f"{self.platform} rights-owner form", "")
        )
        return self.options.name or default_name, self.options.url or default_url

    @override
    async def submit(self, notice: OutgoingNotice) -> Receipt:
        name, url = self.link()
        return Receipt(reference=None, awaiting_person=True, detail={"portal": name, "url": url})
