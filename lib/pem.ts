// PEM bundles: several certificates in one string, as TLS options take them.

/** Every certificate in a PEM bundle, in order. */
export function pemCertificates(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}
