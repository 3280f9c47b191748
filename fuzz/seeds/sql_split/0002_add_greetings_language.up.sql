-- Greetings in several languages; existing rows are English.
ALTER TABLE greetings ADD COLUMN language VARCHAR(10) NOT NULL DEFAULT 'en';
