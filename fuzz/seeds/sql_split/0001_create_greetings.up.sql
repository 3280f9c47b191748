-- The greetings hello-service can answer with.
CREATE TABLE greetings (
    id INTEGER PRIMARY KEY,
    message VARCHAR(200) NOT NULL
);
