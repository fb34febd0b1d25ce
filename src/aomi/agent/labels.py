"""Model labels that other packages name without loading the agent runtime."""

OFFLINE_LABEL = "offline"
