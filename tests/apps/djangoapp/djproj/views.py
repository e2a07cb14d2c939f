from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt


def index(request):
    return HttpResponse('django index')


def item(request, num):
    return JsonResponse({'num': num, 'double': num * 2, 'script_name': request.META.get('SCRIPT_NAME'),
                         'path': request.path, 'path_info': request.path_info})


@csrf_exempt
def form(request):
    if request.method != 'POST':
        return HttpResponse('POST only', status=405)
    return JsonResponse({'fields': request.POST.dict(), 'method': request.method})
