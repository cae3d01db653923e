"""A case's listings become notices and reach their platforms: the notice text (`notices`), its
submission and polling (`submit`), decisions and person actions (`decisions`), per-channel limits
(`limits`), and the channels themselves (`adapters`)."""
