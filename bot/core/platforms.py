"""Platform ids and the names people know them by."""

from __future__ import annotations

PLATFORMS: dict[str, str] = {
    "taobao": "Taobao", "tmall": "Tmall", "1688": "1688.com", "aliexpress": "AliExpress",
    "alibaba": "Alibaba.com", "amazon": "Amazon", "ebay": "eBay", "etsy": "Etsy",
    "shopee": "Shopee", "lazada": "Lazada", "mercadolibre": "Mercado Libre",
    "walmart": "Walmart", "temu": "Temu", "shein": "SHEIN", "facebook": "Facebook Marketplace",
}  # fmt: skip


def platform_name(platform: str) -> str:
    """`ebay` → `eBay`; a custom channel's id as it is."""
    return PLATFORMS.get(platform, platform)
