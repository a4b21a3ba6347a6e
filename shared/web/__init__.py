"""The web surface: pages (chat, dashboard, demo blog), the widget loader, static files,
their security headers, and the demo that the first ``task up`` sets up."""
