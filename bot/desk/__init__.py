"""What the desk answers a person who asks: `/report-listing status|list|digest|scorecard`, the
App Home tab and the case list. Reads the database; builds with `slack_ui`."""
