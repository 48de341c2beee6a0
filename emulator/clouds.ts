/**
 * The Azure clouds the local Azure ML service can stand in for. Kept apart from the action's own table
 * (src/clouds.ts) on purpose: the emulator is the other side of the wire, so a wrong host name, audience or
 * domain in the action shows up as a failed test instead of agreeing with itself.
 */
export const EMULATED_CLOUDS = ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'] as const
export type EmulatedCloudName = (typeof EMULATED_CLOUDS)[number]

/** What one cloud looks like from a client: its host names, token audiences and region. */
export interface EmulatedCloud {
  name: EmulatedCloudName
  /** The region the demo workspace is in (its data plane is `{region}.{dataPlaneDomain}`). */
  region: string
  /** Azure AD's host. */
  authorityHost: string
  /** ARM's host. */
  resourceManagerHost: string
  /** Domain of the regional Azure ML data plane (discovery, history, execution, artifacts, model management). */
  dataPlaneDomain: string
  /** Domain of blob storage accounts (`{account}.{blobDomain}`). */
  blobDomain: string
  /** Domain of the front ends of deployed models (`{region}.{scoringDomain}`). */
  scoringDomain: string
  /** Audiences ARM and the data plane accept in access tokens. */
  armAudiences: readonly string[]
  /** The audience a federated credential for GitHub has by default in this cloud. */
  oidcAudience: string
}

const CLOUDS: Record<EmulatedCloudName, Omit<EmulatedCloud, 'name'>> = {
  AzureCloud: {
    region: 'eastus',
    authorityHost: 'login.microsoftonline.com',
    resourceManagerHost: 'management.azure.com',
    dataPlaneDomain: 'api.azureml.ms',
    blobDomain: 'blob.core.windows.net',
    scoringDomain: 'cloudapp.azure.com',
    armAudiences: ['https://management.azure.com/', 'https://management.azure.com', 'https://management.core.windows.net/', 'https://management.core.windows.net'],
    oidcAudience: 'api://AzureADTokenExchange'
  },
  AzureUSGovernment: {
    region: 'usgovvirginia',
    authorityHost: 'login.microsoftonline.us',
    resourceManagerHost: 'management.usgovcloudapi.net',
    dataPlaneDomain: 'api.ml.azure.us',
    blobDomain: 'blob.core.usgovcloudapi.net',
    scoringDomain: 'cloudapp.usgovcloudapi.net',
    armAudiences: [
      'https://management.usgovcloudapi.net/',
      'https://management.usgovcloudapi.net',
      'https://management.core.usgovcloudapi.net/',
      'https://management.core.usgovcloudapi.net'
    ],
    oidcAudience: 'api://AzureADTokenExchangeUSGov'
  },
  AzureChinaCloud: {
    region: 'chinaeast2',
    authorityHost: 'login.chinacloudapi.cn',
    resourceManagerHost: 'management.chinacloudapi.cn',
    dataPlaneDomain: 'api.ml.azure.cn',
    blobDomain: 'blob.core.chinacloudapi.cn',
    scoringDomain: 'cloudapp.chinacloudapi.cn',
    armAudiences: [
      'https://management.chinacloudapi.cn/',
      'https://management.chinacloudapi.cn',
      'https://management.core.chinacloudapi.cn/',
      'https://management.core.chinacloudapi.cn'
    ],
    oidcAudience: 'api://AzureADTokenExchangeChina'
  }
}

/** The cloud of this name; throws on a name that is not one. */
export function emulatedCloud(name: string = 'AzureCloud'): EmulatedCloud {
  const match = EMULATED_CLOUDS.find(c => c.toLowerCase() === name.toLowerCase())
  if (!match) throw new Error(`cloud must be one of ${EMULATED_CLOUDS.join(', ')} (got '${name}').`)
  return { name: match, ...CLOUDS[match] }
}

/** GitHub's hosts a workflow job talks to for its OIDC token (served too when Azure host names are on). */
export const GITHUB_OIDC_HOSTS = { issuer: 'token.actions.githubusercontent.com', idTokenRequests: 'pipelines.actions.githubusercontent.com' } as const

/**
 * Every host name the local service answers for when clients use Azure's real host names (all clouds at
 * once), as certificate subject alternative names: exact names and one-label wildcards.
 */
export function azureHostNamePatterns(): string[] {
  const names = new Set<string>()
  for (const name of EMULATED_CLOUDS) {
    const c = CLOUDS[name]
    names.add(c.authorityHost)
    names.add(c.resourceManagerHost)
    names.add(`*.${c.dataPlaneDomain}`)
    names.add(`*.${c.blobDomain}`)
    names.add(`*.${c.scoringDomain}`)
  }
  names.add(GITHUB_OIDC_HOSTS.issuer)
  names.add(GITHUB_OIDC_HOSTS.idTokenRequests)
  return [...names]
}

/** Whether a host name is matched by one of the patterns (a wildcard stands for exactly one label). */
export function matchesHostPattern(host: string, patterns: readonly string[]): boolean {
  const name = host.toLowerCase()
  return patterns.some(p => (p.startsWith('*.') ? name.endsWith(p.slice(1)) && !name.slice(0, -p.length + 1).includes('.') && name.length > p.length - 1 : name === p))
}
