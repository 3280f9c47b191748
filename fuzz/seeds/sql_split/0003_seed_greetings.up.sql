INSERT INTO greetings (id, message, language) VALUES (1, 'hello', 'en');
INSERT INTO greetings (id, message, language) VALUES (2, 'bonjour', 'fr');
