"""The only credentials the sandbox accepts: fixed, fake, and safe to print in docs and tests."""

from __future__ import annotations

__all__ = [
    "SANDBOX_AIRCALL_API_ID",
    "SANDBOX_AIRCALL_API_TOKEN",
    "SANDBOX_AIRCALL_OAUTH_TOKEN",
    "SANDBOX_BREVO_KEY",
    "SANDBOX_FRESHDESK_API_KEY",
    "SANDBOX_HUBSPOT_READONLY_TOKEN",
    "SANDBOX_HUBSPOT_TOKEN",
    "SANDBOX_INTERCOM_TOKEN",
    "SANDBOX_INTERCOM_WORKSPACE_ID",
    "SANDBOX_MAILCHIMP_DC",
    "SANDBOX_MAILCHIMP_KEY",
    "SANDBOX_MAILCHIMP_LIST_ID",
    "SANDBOX_PIPEDRIVE_DEAL_UNIFIED_ID_FIELD",
    "SANDBOX_PIPEDRIVE_OAUTH_TOKEN",
    "SANDBOX_PIPEDRIVE_ORG_UNIFIED_ID_FIELD",
    "SANDBOX_PIPEDRIVE_PERSON_UNIFIED_ID_FIELD",
    "SANDBOX_PIPEDRIVE_TOKEN",
    "SANDBOX_SALESFORCE_CLIENT_ID",
    "SANDBOX_SALESFORCE_CLIENT_SECRET",
    "SANDBOX_SALESFORCE_REFRESH_TOKEN",
    "SANDBOX_SALESFORCE_TOKEN",
    "SANDBOX_ZENDESK_API_TOKEN",
    "SANDBOX_ZENDESK_EMAIL",
    "SANDBOX_ZENDESK_OAUTH_TOKEN",
    "SANDBOX_ZENDESK_SUBDOMAIN",
]

SANDBOX_HUBSPOT_TOKEN = "pat-na1-sandbox-0000"
# Salesforce session id / OAuth access token (bearer), shaped like a real `00D…!…` one.
SANDBOX_SALESFORCE_TOKEN = "00D5g000004SbXqEAK!sandbox.revsync.salesforce.session.0000"
# The connected app and refresh token `POST /services/oauth2/token` exchanges for that token.
SANDBOX_SALESFORCE_CLIENT_ID = "3MVG9sandbox.revsync.connected.app.consumer.key.0000"
SANDBOX_SALESFORCE_CLIENT_SECRET = "SANDBOXCONSUMERSECRET0000000000000000000000000000000000000000"
SANDBOX_SALESFORCE_REFRESH_TOKEN = "5Aep861sandbox.revsync.salesforce.refresh.token.0000"
# Pipedrive API token (header `x-api-token` or `?api_token=`) and an OAuth bearer token.
SANDBOX_PIPEDRIVE_TOKEN = "0123456789abcdef0123456789abcdef01234567"
SANDBOX_PIPEDRIVE_OAUTH_TOKEN = "v1u:sandbox-pipedrive-oauth-token-0000"
# The keys of the sandbox company's revsync id custom fields (Pipedrive keys custom fields by
# 40-character hashes, one per account and field).
SANDBOX_PIPEDRIVE_PERSON_UNIFIED_ID_FIELD = "fbd7b9ff21113724c50480e4786772f21cfad28e"
SANDBOX_PIPEDRIVE_ORG_UNIFIED_ID_FIELD = "a2a0f75419ac8fd0a91ef213053fee310da7e499"
SANDBOX_PIPEDRIVE_DEAL_UNIFIED_ID_FIELD = "6197d2728bd8c9f2699fceba98a0d6d833ce5dfd"
# A private app granted only crm.objects.*.read: writes answer 403 MISSING_SCOPES.
SANDBOX_HUBSPOT_READONLY_TOKEN = "pat-na1-sandbox-read-only"
SANDBOX_MAILCHIMP_KEY = "0123456789abcdef0123456789abcdef-us6"
SANDBOX_MAILCHIMP_DC = "us6"
SANDBOX_MAILCHIMP_LIST_ID = "a1b2c3d4e5"
SANDBOX_FRESHDESK_API_KEY = "sandboxFreshdeskKey0000"  # basic auth username, password "X"
SANDBOX_INTERCOM_TOKEN = "dG9rOnNhbmRib3gtaW50ZXJjb20tMDAwMA=="  # bearer
SANDBOX_INTERCOM_WORKSPACE_ID = "sbx0ic01"  # the app id (workspace_id of contacts)
SANDBOX_AIRCALL_API_ID = "sandbox-aircall-api-id"  # basic auth api_id:api_token
SANDBOX_AIRCALL_API_TOKEN = "sandbox-aircall-api-token"
SANDBOX_AIRCALL_OAUTH_TOKEN = "sandbox-aircall-oauth-token"  # OAuth bearer alternative
# Brevo v3 API key (header `api-key`), shaped like a real `xkeysib-` key.
SANDBOX_BREVO_KEY = "xkeysib-" + "0" * 64 + "-sandbox00000000"
# Zendesk: basic auth `{any email}/token:{token}`, or OAuth bearer.
SANDBOX_ZENDESK_SUBDOMAIN = "revsync-sandbox"
SANDBOX_ZENDESK_EMAIL = "agent@revsync-sandbox.example"
SANDBOX_ZENDESK_API_TOKEN = "sandboxZendeskApiToken0000"
SANDBOX_ZENDESK_OAUTH_TOKEN = "sandbox-zendesk-oauth-token"
