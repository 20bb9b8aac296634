"""arinsights: accounts-receivable analytics for credit controllers, AR analysts and CFOs."""

__version__ = "0.1.0"
