-- Clients allowed to receive the nnin claim.
ALTER TABLE clients ADD COLUMN allow_nnin boolean NOT NULL DEFAULT false;
