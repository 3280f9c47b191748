CREATE TABLE t (s text DEFAULT 'a;b', "q;" int); -- c;
/* x; /* nested; */ */ INSERT INTO t VALUES (E'\';');
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
SELECT $$;$$;
