"""A case's listings become notices and reach their platforms: planning them (`plan`), the notice's
legal elements and text (`elements`, `cleaning`, `notices`), the `submit`, `poll` and `lookup`
jobs, what a delivery's outcome writes (`record`), what people do with a notice (`person`),
recording decisions (`decisions`), guarded status changes (`states`), the channel calls and their
limits (`channel`, `limits`), and the channels themselves (`adapters`)."""
