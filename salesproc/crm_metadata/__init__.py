"""A process as a CRM's own configuration, out and in: Salesforce metadata (SFDX source
written, SFDX or Metadata API source read). What the CRM cannot hold is listed, never
dropped without a word."""
