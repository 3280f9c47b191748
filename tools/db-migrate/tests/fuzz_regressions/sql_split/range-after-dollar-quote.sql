CRION f()$;E t (s teRT INTO t VALUES (E'\';');
CREATE FUNCTION f()$;$$;