"""The sync engine's audit events as sentences (registered with accounts.audit_text in SyncConfig.ready)."""

from accounts.audit_text import register_phrases


def register() -> None:
    register_phrases({
        "sync.spec_saved": "saved the sync settings of {app}",
        "sync.connection_authorised": "connected {app} to {account}",
        "sync.connection_registered": "registered an external connection of {app} to {account}",
        "sync.connection_provisioned": "set up the sync of {app} for {account}",
        "sync.connection_needs_reauth": "marked the connection {target} as needing a new approval",
        "sync.connection_paused": "paused the sync {target}",
        "sync.connection_resumed": "resumed the sync {target}",
        "sync.run_requested": "asked for a sync run of {target}",
        "sync.full_resync_requested": "asked for a full resync of {target}",
        "sync.webhook_redelivery": "asked to redeliver webhook delivery {delivery} of {app}",
        "sync.webhooks_paused": "paused the webhooks of {app}",
        "sync.webhooks_resumed": "resumed the webhooks of {app}",
    })
