"""The merchants' Telegram bot: the Bot API client, linking chats, commands, payment notices."""
