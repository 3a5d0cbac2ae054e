"""The domain rules: texting hours, phones, text, time. Pure; only the contract."""
