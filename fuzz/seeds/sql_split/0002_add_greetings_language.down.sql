ALTER TABLE greetings DROP COLUMN language;
