-- Students and courses as they stood before enrollment existed; uniqueness ignores case.
SET lock_timeout = '5s';
SET statement_timeout = '60s';

CREATE TABLE IF NOT EXISTS students (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    first_name text NOT NULL,
    last_name text NOT NULL,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT students_first_name_length CHECK (char_length(first_name) BETWEEN 1 AND 100),
    CONSTRAINT students_last_name_length CHECK (char_length(last_name) BETWEEN 1 AND 100),
    CONSTRAINT students_email_length CHECK (char_length(email) BETWEEN 3 AND 254)
);

CREATE UNIQUE INDEX IF NOT EXISTS students_email_key ON students (lower(email));

CREATE TABLE IF NOT EXISTS courses (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL,
    title text NOT NULL,
    capacity bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT courses_code_format CHECK (code ~ '^[A-Za-z0-9._-]{1,32}$'),
    CONSTRAINT courses_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
    CONSTRAINT courses_capacity_range CHECK (capacity BETWEEN 0 AND 100000)
);

CREATE UNIQUE INDEX IF NOT EXISTS courses_code_key ON courses (lower(code));
