"""CSV exports: the rows of an export, the S3 upload, and export jobs run by the export worker.

An export that fits `csv_inline_max_bytes` is answered inline by the merchant API
(paylink.web.exports); a larger one becomes an export job (jobs.py), written to the export bucket
by ExportFunction and handed over as a short-lived presigned URL.
"""
