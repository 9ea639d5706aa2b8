ALTER ROLE authenticator RESET statement_timeout;
ALTER ROLE writer RESET statement_timeout;
ALTER ROLE web_anon RESET statement_timeout;
