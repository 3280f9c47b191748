INSERT INTO t VALUES ('it\'s;', "dq;", `bt;`); # hash;
SELECT 1; -- dash;
SELECT 2;
