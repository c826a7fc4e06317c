"""CRM Insight Studio core library: pure Python, no Streamlit, shared by the app and the CLI."""

__version__ = "0.1.0"
