/**
 * The demo directory, subscription and workspace the local Azure ML service starts with. The values are
 * fixed so that a README, a workflow file or a test can name them; the secrets are not secret (they only
 * open this local service) but look like real ones so that the action's secret masking is exercised.
 */
export const DEMO = {
  tenantId: '11111111-1111-4111-8111-111111111111',
  /** The service principal with a role (Contributor) on the demo subscription, hence on the workspace. */
  clientId: '22222222-2222-4222-8222-222222222222',
  clientSecret: 'Lq8~emulatorDemoSecret.K3y-0001',
  objectId: '66666666-6666-4666-8666-666666666666',
  /** A service principal that exists in the tenant but has no role anywhere: every ARM and data-plane call is 403. */
  noRole: {
    clientId: '44444444-4444-4444-8444-444444444444',
    clientSecret: 'Zr5~emulatorNoRoleSecret.K3y-0002',
    objectId: '77777777-7777-4777-8777-777777777777'
  },
  subscriptionId: '33333333-3333-4333-8333-333333333333',
  resourceGroup: 'local-rg',
  workspaceName: 'local-ws',
  workspaceId: '55555555-5555-4555-8555-555555555555',
  location: 'eastus',
  compute: 'cpu-cluster',
  computeVmSize: 'Standard_DS3_v2'
} as const

/** The shape of {@link DEMO}. */
export type DemoIdentity = typeof DEMO
