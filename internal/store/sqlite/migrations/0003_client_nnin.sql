-- Clients allowed to receive the nnin claim.
ALTER TABLE clients ADD COLUMN allow_nnin INTEGER NOT NULL DEFAULT 0;
