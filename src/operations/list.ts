import { ComputeClient } from '../azureml/computes.js'
import { connectWorkspace, withSession } from '../azureml/connect.js'
import { listResourceGroups } from '../azureml/resource-groups.js'
import type { AzureSession } from '../azureml/session.js'
import { listWorkspaces } from '../azureml/workspace.js'
import { Outputs } from '../constants.js'
import { table } from '../report/markdown.js'
import type { ListSettings } from '../settings.js'
import type { OperationContext } from './context.js'
import type { OperationResult } from './result.js'

type Row = Record<string, string | number | boolean | null>

/**
 * `list`: every page of resource groups, workspaces, experiments, runs, models or computes. `result` is a
 * JSON array of flat records (documented fields; nothing secret — a run's own token never leaves), shown as a
 * table in the log and the job summary.
 */
export async function list(settings: ListSettings, ctx: OperationContext): Promise<OperationResult> {
  const azure = 'azure' in settings ? settings.azure : settings.subscription
  const rows = await withSession(azure, ctx, session => fetchRows(settings, session))
  const columns = rows.length ? Object.keys(rows[0]) : []
  const text = rows.length ? table(columns, rows.map(r => columns.map(c => display(r[c])))) : `No ${settings.resource}.`
  ctx.logger.info(`${rows.length} ${settings.resource}:\n${text}`)
  return {
    outputs: { [Outputs.result]: JSON.stringify(rows) },
    summary: `### ${rows.length} ${settings.resource}\n\n${text}\n`
  }
}

async function fetchRows(settings: ListSettings, session: AzureSession): Promise<Row[]> {
  switch (settings.resource) {
    case 'resource-groups':
      return (await listResourceGroups(session, settings.subscription.subscriptionId)).map(g => ({
        name: g.name ?? '',
        location: g.location ?? '',
        provisioningState: g.properties?.provisioningState ?? null,
        id: g.id ?? ''
      }))
    case 'workspaces':
      return (await listWorkspaces(session, settings.subscription.subscriptionId, settings.subscription.resourceGroup)).map(w => ({
        name: w.name ?? '',
        resourceGroup: /\/resourceGroups\/([^/]+)/i.exec(w.id ?? '')?.[1] ?? '',
        location: w.location ?? '',
        provisioningState: w.properties?.provisioningState ?? null,
        friendlyName: w.properties?.friendlyName ?? null,
        id: w.id ?? ''
      }))
    case 'computes':
      return (await new ComputeClient(session, settings.azure.workspace).list()).map(c => ({
        name: c.name ?? '',
        computeType: c.properties?.computeType ?? null,
        vmSize: c.properties?.properties?.vmSize ?? null,
        vmPriority: c.properties?.properties?.vmPriority ?? null,
        minNodes: c.properties?.properties?.scaleSettings?.minNodeCount ?? null,
        maxNodes: c.properties?.properties?.scaleSettings?.maxNodeCount ?? null,
        provisioningState: c.properties?.provisioningState ?? null,
        location: c.location ?? null
      }))
    case 'experiments': {
      const clients = await connectWorkspace(session, settings.azure)
      return (await clients.history.listExperiments()).map(e => ({
        name: e.name ?? '',
        experimentId: e.experimentId ?? '',
        createdUtc: e.createdUtc ?? null,
        latestRunId: e.latestCreatedRunId ?? null
      }))
    }
    case 'runs': {
      const clients = await connectWorkspace(session, settings.azure)
      return (await clients.history.listRuns(settings.experimentName)).map(r => ({
        runId: r.runId ?? '',
        runNumber: r.runNumber ?? null,
        status: r.status ?? null,
        target: r.target ?? null,
        createdUtc: r.createdUtc ?? null,
        startTimeUtc: r.startTimeUtc ?? null,
        endTimeUtc: r.endTimeUtc ?? null
      }))
    }
    case 'models': {
      const clients = await connectWorkspace(session, settings.azure)
      return (await clients.models.list(settings.modelName)).map(m => ({
        id: m.id ?? '',
        name: m.name ?? '',
        version: m.version ?? null,
        framework: m.framework ?? null,
        runId: m.runId ?? null,
        createdTime: m.createdTime ?? null
      }))
    }
  }
}

function display(value: Row[string]): string {
  return value === null || value === undefined ? '' : String(value)
}
