import {
  BUNDLE_VERSION_ANNOTATION,
  CHANNEL_ANNOTATION,
  GATEWAY_API_SUM,
  GATEWAY_API_VERSION,
  bundleObjects,
  bundlePath,
  bundleYaml,
  channelDir,
  isEstablished,
  manifestFiles,
  missingFromCluster,
  parseModuleDownload,
  type ManifestObject,
} from './gateway-api.js';

const download = (fields: Record<string, unknown>): string =>
  JSON.stringify({
    Path: 'sigs.k8s.io/gateway-api',
    Version: GATEWAY_API_VERSION,
    Dir: '/mod/gateway-api',
    Sum: GATEWAY_API_SUM,
    ...fields,
  });

describe('where the bundle lives', () => {
  it('is one versioned file per channel beside the binaries', () => {
    expect(bundlePath('/cache/bin')).toBe(`/cache/bin/gateway-api-standard-${GATEWAY_API_VERSION}.yaml`);
    expect(bundlePath('/c', 'v1.2.1', 'experimental')).toBe('/c/gateway-api-experimental-v1.2.1.yaml');
  });

  it('is read from config/crd/<channel> of the module', () => {
    expect(channelDir('/mod/gateway-api@v1.6.3')).toBe('/mod/gateway-api@v1.6.3/config/crd/standard');
  });
});

describe('parseModuleDownload', () => {
  it('returns the module directory of the pinned release', () => {
    expect(parseModuleDownload(download({}))).toEqual({ dir: '/mod/gateway-api', sum: GATEWAY_API_SUM });
  });

  it.each([
    [
      'go reports an error',
      download({ Error: 'requires go >= 1.27.0', Dir: undefined }),
      /@v1\.6\.3: requires go >= 1\.27\.0/,
    ],
    ['the hash is not the pinned one', download({ Sum: 'h1:AAAA=' }), /module hash h1:AAAA= is not the pinned h1:/],
    ['another version came back', download({ Version: 'v1.5.0' }), /go reported sigs\.k8s\.io\/gateway-api@v1\.5\.0/],
    ['another module came back', download({ Path: 'example.com/x' }), /go reported example\.com\/x@/],
    ['there is no directory', download({ Dir: '' }), /no module directory/],
    ['go printed no JSON', 'go: no network', /go printed no JSON/],
  ])('refuses when %s', (_what, stdout, message) => {
    expect(() => parseModuleDownload(stdout)).toThrow(message);
  });
});

describe('manifestFiles', () => {
  it.each([
    [
      ['b.yaml', 'kustomization.yaml', 'a.yaml'],
      ['a.yaml', 'b.yaml'],
    ],
    [['README.md', 'httproutes.yaml', 'x.yml.orig'], ['httproutes.yaml']],
    [[], []],
  ])('%j -> %j', (names, expected) => {
    expect(manifestFiles(names)).toEqual(expected);
  });
});

const crd = (
  name: string,
  version = GATEWAY_API_VERSION,
  channel = 'standard',
): string => `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${name}
  annotations:
    ${BUNDLE_VERSION_ANNOTATION}: ${version}
    ${CHANNEL_ANNOTATION}: ${channel}
`;

describe('bundleYaml and bundleObjects', () => {
  const policy = `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: safe-upgrades.gateway.networking.k8s.io
---

apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: safe-upgrades.gateway.networking.k8s.io
`;
  const yaml = bundleYaml(GATEWAY_API_VERSION, 'standard', [
    { name: 'a_gateways.yaml', text: crd('gateways.gateway.networking.k8s.io') },
    { name: 'b_vap.yaml', text: policy },
    { name: 'c_httproutes.yaml', text: `---\n${crd('httproutes.gateway.networking.k8s.io')}` },
  ]);

  it('heads each file with its source', () => {
    expect(yaml).toContain(`# sigs.k8s.io/gateway-api@${GATEWAY_API_VERSION} config/crd/standard/b_vap.yaml\n`);
  });

  it('reads back every object, empty documents skipped, CRDs before the policy that gates CRD writes', () => {
    expect(bundleObjects(yaml).map((o) => `${o.kind} ${o.metadata.name}`)).toEqual([
      'CustomResourceDefinition gateways.gateway.networking.k8s.io',
      'CustomResourceDefinition httproutes.gateway.networking.k8s.io',
      'ValidatingAdmissionPolicy safe-upgrades.gateway.networking.k8s.io',
      'ValidatingAdmissionPolicyBinding safe-upgrades.gateway.networking.k8s.io',
    ]);
  });

  it('refuses a document without a name', () => {
    expect(() => bundleObjects('apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n')).toThrow(
      /without kind or metadata.name/,
    );
  });

  it('refuses broken YAML', () => {
    expect(() => bundleObjects('kind: [unclosed\n')).toThrow(/parse Gateway API bundle/);
  });
});

const established = {
  conditions: [
    { type: 'NamesAccepted', status: 'True' },
    { type: 'Established', status: 'True' },
  ],
};
const object = (
  kind: string,
  version = GATEWAY_API_VERSION,
  channel = 'standard',
  status?: ManifestObject['status'],
): ManifestObject => ({
  apiVersion: 'x/v1',
  kind,
  metadata: { name: 'n', annotations: { [BUNDLE_VERSION_ANNOTATION]: version, [CHANNEL_ANNOTATION]: channel } },
  status,
});

describe('isEstablished', () => {
  it.each([
    ['Established=True', true, established],
    ['Established=False', false, { conditions: [{ type: 'Established', status: 'False' }] }],
    ['no conditions yet', false, {}],
    ['no status', false, undefined],
  ])('%s -> %s', (_what, expected, status) => {
    expect(isEstablished(object('CustomResourceDefinition', GATEWAY_API_VERSION, 'standard', status))).toBe(expected);
  });
});

describe('missingFromCluster', () => {
  const wanted = [object('CustomResourceDefinition'), object('ValidatingAdmissionPolicy')];

  it.each<[string, (ManifestObject | undefined)[], string[]]>([
    [
      'everything there at this release',
      [
        object('CustomResourceDefinition', GATEWAY_API_VERSION, 'standard', established),
        object('ValidatingAdmissionPolicy'),
      ],
      [],
    ],
    [
      'a fresh cluster',
      [undefined, undefined],
      ['CustomResourceDefinition n: missing', 'ValidatingAdmissionPolicy n: missing'],
    ],
    [
      'an older release',
      [object('CustomResourceDefinition', 'v1.2.1', 'standard', established), object('ValidatingAdmissionPolicy')],
      [`CustomResourceDefinition n: ${BUNDLE_VERSION_ANNOTATION} is v1.2.1, want ${GATEWAY_API_VERSION}`],
    ],
    [
      'the experimental channel',
      [
        object('CustomResourceDefinition', GATEWAY_API_VERSION, 'experimental', established),
        object('ValidatingAdmissionPolicy'),
      ],
      [`CustomResourceDefinition n: ${CHANNEL_ANNOTATION} is experimental, want standard`],
    ],
    [
      'a CRD not yet Established',
      [object('CustomResourceDefinition'), object('ValidatingAdmissionPolicy')],
      ['CustomResourceDefinition n: not Established'],
    ],
  ])('%s', (_what, live, expected) => {
    expect(missingFromCluster(wanted, live)).toEqual(expected);
  });
});
