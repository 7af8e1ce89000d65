"""Patient messaging: single messages (SMS, email, NHS App, Hero), batch campaigns, templates,
attachment links and writing sent messages to the patient's record."""
