CREATE TABLE systems (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- ID's, timestamps and user name
    unique_id TEXT UNIQUE,
    ctime REAL,
    mtime REAL,
    username TEXT,
    numbers BLOB,  -- stuff that defines an Atoms object
    positions BLOB,
    cell BLOB,
    pbc INTEGER,
    initial_magmoms BLOB,
    initial_charges BLOB,
    masses BLOB,
    tags BLOB,
    momenta BLOB,
    constraints TEXT,  -- constraints and calculator
    calculator TEXT,
    calculator_parameters TEXT,
    energy REAL,  -- calculated properties
    free_energy REAL,
    forces BLOB,
    stress BLOB,
    dipole BLOB,
    magmoms BLOB,
    magmom REAL,
    charges BLOB,
    key_value_pairs TEXT,  -- key-value pairs and data as json
    data BLOB,
    natoms INTEGER,  -- stuff for making queries faster
    fmax REAL,
    smax REAL,
    volume REAL,
    mass REAL,
    charge REAL);
CREATE TABLE species (
    Z INTEGER,
    n INTEGER,
    id INTEGER,
    FOREIGN KEY (id) REFERENCES systems(id));
CREATE TABLE keys (
    key TEXT,
    id INTEGER,
    FOREIGN KEY (id) REFERENCES systems(id));
CREATE TABLE text_key_values (
    key TEXT,
    value TEXT,
    id INTEGER,
    FOREIGN KEY (id) REFERENCES systems(id));
CREATE TABLE number_key_values (
    key TEXT,
    value REAL,
    id INTEGER,
    FOREIGN KEY (id) REFERENCES systems(id));
CREATE TABLE information (
    name TEXT,
    value TEXT);
CREATE INDEX unique_id_index ON systems(unique_id);
CREATE INDEX ctime_index ON systems(ctime);
CREATE INDEX username_index ON systems(username);
CREATE INDEX calculator_index ON systems(calculator);
CREATE INDEX species_index ON species(Z);
CREATE INDEX key_index ON keys(key);
CREATE INDEX text_index ON text_key_values(key);
CREATE INDEX number_index ON number_key_values(key);
CREATE INDEX qaware_text_kv ON text_key_values(key, value);
CREATE INDEX qaware_number_kv ON number_key_values(key, value);
CREATE INDEX qaware_text_id ON text_key_values(id);
CREATE INDEX qaware_number_id ON number_key_values(id);
CREATE INDEX qaware_keys_id ON keys(id);
CREATE INDEX qaware_species_id ON species(id);
